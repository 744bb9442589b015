"""Who is told what about a new version, as messages ready for the outbox (pure).

A new version's changes fan out to its subscriptions: each picks the changes it wants
(`subscriptions.select`: audience, kinds, place); an immediate subscription gets one email
now, a daily or weekly one keeps the changes for its digest (`Notices.digests`), and each
`[[webhooks]]` entry gets one signed JSON POST for the batch, and each `[[channels]]` entry one
chat message in its audience's words (`channel_message`). Nothing here sends or stores:
`Store.save_version` writes the version, its changes and these messages in one transaction,
which is what makes a crash unable to lose or double a notification.

Every message carries an idempotency key that names what it is about (`NCT…/v3/s12`), so a
cycle that runs again after a crash queues nothing twice (the outbox ignores a key it has).
A subscription whose chosen changes say nothing to its audience gets no message at all: an
empty notification is noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from hashlib import sha256
from typing import Any, Protocol

from watcher.core.change import Change, StoredChange
from watcher.core.glossary import Glossary
from watcher.core.ids import registry_url
from watcher.core.mailmerge import Merge
from watcher.core.message import (
    Attachment,
    Notices,
    Outgoing,
    build_email,
    unsubscribe_targets,
    unsubscribe_url,
    wire_bytes,
)
from watcher.core.places import Near
from watcher.core.record import Trial
from watcher.core.spreadsheet import CSV_NAME, changes_csv
from watcher.core.subscriptions import Subscriber, Subscription, select
from watcher.core.wording import (
    ChangeSummary,
    SiteLine,
    TrialSummary,
    coordinator_changes,
    headline,
    moved_headline,
    moved_summary,
    patient_changes,
    trial_summary,
)
from watcher.core.wording.subscription import (
    FEED_LINE,
    gone_headline,
    gone_lines,
    unwatched_headline,
    unwatched_lines,
    welcome_headline,
    welcome_plan,
)
from watcher.core.wording.words import code_words

# What makes two subscriptions hear of a version in the same words: audience, kinds, place.
Wish = tuple[str, frozenset[str] | None, Near | None]


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What every message needs from the settings: who it is from, where unsubscribing goes."""

    sender: str
    web_base_url: str | None = None


class Renderer(Protocol):
    """Lays out a template pair's context as text or HTML (`watcher.delivery.templates.render`).

    Passed in rather than imported: reading templates from disk is the delivery edge's job, and
    the planning here stays pure (a test can hand it any renderer)."""

    def __call__(self, name: str, **context: Any) -> str: ...


class HookTarget(Protocol):
    """A `[[webhooks]]` entry: where to POST, and which kinds (empty: all)."""

    @property
    def url(self) -> str: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...


class ChannelTarget(Protocol):
    """A `[[channels]]` entry this trial's changes go to: its name, kinds (empty: all), audience."""

    @property
    def name(self) -> str: ...
    @property
    def kinds(self) -> tuple[str, ...]: ...
    @property
    def audience(self) -> str: ...


def change_summary(
    subscription: Subscription, changes: Sequence[Change], glossary: Glossary
) -> ChangeSummary:
    """The changes as this subscription's audience reads them."""
    if subscription.audience == "patient":
        return patient_changes(changes, subscription.near, glossary=glossary)
    return coordinator_changes(changes)


def footer(
    person: Subscriber, letterhead: Letterhead, *, search_id: int | None = None
) -> dict[str, str]:
    """The unsubscribe target and the visible line that says how to use it (for a saved
    search's email, `search_id`: the link that ends that search only)."""
    target = unsubscribe_url(
        person.unsubscribe_token, letterhead.web_base_url, letterhead.sender, search_id=search_id
    )
    if target.startswith("https:") and search_id is not None:
        line = f"To stop the emails of this search, open {target}"
    elif target.startswith("https:"):
        line = f"To stop these emails, open {target}"
    else:
        address = target.removeprefix("mailto:").split("?", 1)[0]
        line = (
            f"To stop these emails, use your mail program's Unsubscribe button, or send an "
            f"email to {address} with the subject “unsubscribe {person.unsubscribe_token}”."
        )
    return {"unsubscribe": target, "unsubscribe_line": line}


# A patient's change email lists this many sites, nearest first; the rest are on the trial's page.
NEAREST_SITES = 3


@dataclass(frozen=True, slots=True)
class Link:
    """A link as a reader sees it: where it goes and the words that say so."""

    url: str
    text: str


def trial_page(nct_id: str, audience: str, letterhead: Letterhead) -> Link:
    """The one link of a change email: the whole trial, for its reader.

    A patient goes to the trial's plain-English page (`[web] base_url` + `/trials/NCT…`, where
    the full criteria and their glossary are) when there is a web base, else to
    ClinicalTrials.gov; a coordinator, who checks the official record, always to
    ClinicalTrials.gov.
    """
    if audience == "patient" and letterhead.web_base_url:
        url = f"{letterhead.web_base_url}/trials/{nct_id}"
        return Link(url, "Read the whole study in plain English")
    return Link(registry_url(nct_id), "See the whole study on ClinicalTrials.gov")


def nearest_sites(summary: TrialSummary) -> tuple[tuple[SiteLine, ...], int]:
    """The sites a patient's change email lists (`NEAREST_SITES`) and how many it leaves out.

    `trial_summary` already orders them nearest first (recruiting first within one nearness)
    and says how near each is (`SiteLine.nearness`); this is the one seam where a change email
    picks its sites, so ordering and saying by distance (places by distance, issue 14) changes
    `trial_summary` and `SiteLine`, not the email.
    """
    shown = summary.sites[:NEAREST_SITES]
    return shown, len(summary.sites) + summary.sites_not_shown - len(shown)


def trial_email(
    person: Subscriber,
    trial: Trial,
    changes: Sequence[Change],
    summary: ChangeSummary,
    about: TrialSummary,
    *,
    key: str,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing:
    """One immediate email, short: what changed first (`summary`, the `changes` as the reader's
    audience reads them), then the trial's key facts and nearest sites (a patient's, from
    `about`), then one link to the whole trial.

    The full criteria and their glossary are on that page (and in the first email a subscriber
    gets), not in every change email: the only words explained here are those of what changed.
    """
    subject = headline(changes, trial)
    sites, more_sites = nearest_sites(about) if about.audience == "patient" else ((), 0)
    context = {
        "headline": subject,
        # The subject without the title: the body shows the title once, under it.
        "heading": headline(changes, replace(trial, brief_title=None, official_title=None)),
        "changes": summary,
        "trial": about,
        "sites": sites,
        "more_sites": more_sites,
        "page": trial_page(about.nct_id, about.audience, letterhead),
        **footer(person, letterhead),
    }
    return _email(
        person, subject, "email", context, key=key, letterhead=letterhead, render=render, now=now
    )


def moved_notices(
    old: str,
    trial: Trial,
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    *,
    glossary: Glossary,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> tuple[Outgoing, ...]:
    """One email to each subscriber of `old`: their trial is now listed as `trial.nct_id`.

    Sent whatever their kinds and digest choice: it is about the subscription itself, and it
    happens once (the key names the move, so a repeated cycle queues nothing twice).
    """
    new = trial.nct_id or old
    subject = moved_headline(old, trial)

    def notice(person: Subscriber, subscription: Subscription) -> Outgoing:
        context = {
            "headline": subject,
            "changes": moved_summary(old, new, subscription.audience),
            "trial": trial_summary(trial, subscription.audience, glossary, subscription.near),
            **footer(person, letterhead),
        }
        key = f"{old}/moved-to-{new}/p{person.id}"
        return _email(
            person,
            subject,
            "email",
            context,
            key=key,
            letterhead=letterhead,
            render=render,
            now=now,
        )

    return _once_each(subscriptions, notice)


def welcome_email(
    person: Subscriber,
    subscription: Subscription,
    trial: Trial,
    *,
    feed_url: str,
    glossary: Glossary,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing:
    """The first email of a subscription: what they will get and how often, the whole trial
    (all its criteria, the words explained), their private feed and the way out.

    Change emails stay short because this one has the rest. The key names the subscription
    and the moment it started, so a subscription started again later is welcomed again.
    """
    summary = trial_summary(trial, subscription.audience, glossary, subscription.near)
    return _welcome(
        person,
        subscription,
        summary,
        _shown(summary, render),
        key=welcome_key(summary.nct_id, subscription.id, now),
        feed_url=feed_url,
        letterhead=letterhead,
        render=render,
        now=now,
    )


def welcome_key(nct_id: str, subscription_id: int, now: datetime) -> str:
    """A welcome email's outbox key: the trial, the moment, the subscription."""
    return f"welcome/{nct_id}/{now.strftime('%Y%m%dT%H%M%S%f')}/s{subscription_id}"


def _shown(summary: TrialSummary, render: Renderer) -> tuple[str, str]:
    """The trial as a welcome shows it, text and HTML: the longest part of the email, rendered
    once per trial, audience and place however many welcomes (and checks of them) show it."""
    text = render("trial_summary.txt.j2", trial=summary)
    return text, render("trial_summary.html.j2", trial=summary)


def _welcome(
    person: Subscriber,
    subscription: Subscription,
    summary: TrialSummary,
    shown: tuple[str, str],
    *,
    key: str,
    feed_url: str,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing:
    """The welcome email of `subscription` to `person`, with the trial as `summary` says it
    (`shown`: that summary rendered, `_shown`)."""
    subject = welcome_headline(summary.nct_id, summary.title)
    context = {
        "headline": subject,
        "plan": welcome_plan(subscription),
        "trial": summary,
        "summary_text": shown[0],
        "summary_html": shown[1],
        "feed_line": FEED_LINE,
        "feed_url": feed_url,
        **footer(person, letterhead),
    }
    return _email(
        person, subject, "welcome", context, key=key, letterhead=letterhead, render=render, now=now
    )


class Welcomes:
    """The welcome emails of many new subscriptions at once (`subscribe --file`), each distinct
    one built once: the trial worded once per audience (its sites once per place), each
    (trial, audience, digest, kinds, place) email built once and filled in with each reader's
    own parts (`watcher.core.mailmerge`), byte for byte what `welcome_email` makes; the trial
    rendered once per (trial, audience, place).

    `trial` gives a trial by NCT ID; `feed_url` a reader's private feed from their feed token.
    """

    def __init__(
        self,
        trial: Callable[[str], Trial],
        *,
        feed_url: Callable[[str], str],
        glossary: Glossary,
        letterhead: Letterhead,
        render: Renderer,
        now: datetime,
    ) -> None:
        self._trial, self._feed_url, self._glossary = trial, feed_url, glossary
        self._letterhead, self._render, self._now = letterhead, render, now
        self._worded: dict[tuple[str, str], TrialSummary] = {}
        self._placed: dict[tuple[str, str, Near | None], tuple[TrialSummary, tuple[str, str]]] = {}
        self._merges: dict[tuple[str, str, str, frozenset[str] | None, Near | None], Merge] = {}

    def __call__(self, person: Subscriber, subscription: Subscription) -> Outgoing:
        """The welcome email of `subscription` (new) to `person`."""
        nct_id, audience = subscription.nct_id, subscription.audience
        group = (nct_id, audience, subscription.delivery, subscription.kinds, subscription.near)
        if group not in self._merges:
            if (nct_id, audience) not in self._worded:
                self._worded[nct_id, audience] = trial_summary(
                    self._trial(nct_id), audience, self._glossary
                )
            place = (nct_id, audience, subscription.near)
            if place not in self._placed:
                placed = self._worded[nct_id, audience].placed(
                    self._trial(nct_id), subscription.near
                )
                self._placed[place] = placed, _shown(placed, self._render)
            summary, shown = self._placed[place]
            self._merges[group] = Merge(
                lambda reader, key: _welcome(
                    reader,
                    subscription,
                    summary,
                    shown,
                    key=key,
                    feed_url=self._feed_url(reader.feed_token),
                    letterhead=self._letterhead,
                    render=self._render,
                    now=self._now,
                )
            )
        key = welcome_key(self._worded[nct_id, audience].nct_id, subscription.id, self._now)
        return self._merges[group](person, key)


def gone_notices(
    nct_id: str,
    title: str,
    version: int,
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    *,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> tuple[Outgoing, ...]:
    """One email to each subscriber of a trial the registry no longer has (404).

    Sent whatever their kinds and digest choice, once per stored `version` (the key names it):
    the poll asks again each cycle, and a trial that comes back and goes again is news again.
    """
    subject = gone_headline(nct_id, title)
    lines = gone_lines(nct_id)
    return _notices(
        nct_id,
        subject,
        lines,
        f"{nct_id}/gone-after-v{version}",
        subscriptions,
        letterhead=letterhead,
        render=render,
        now=now,
    )


def unwatched_notices(
    nct_id: str,
    title: str,
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    *,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> tuple[Outgoing, ...]:
    """One email to each subscriber of a trial `watch remove --force` stops watching."""
    subject = unwatched_headline(nct_id, title)
    lines = unwatched_lines(nct_id)
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    return _notices(
        nct_id,
        subject,
        lines,
        f"{nct_id}/unwatched-{stamp}",
        subscriptions,
        letterhead=letterhead,
        render=render,
        now=now,
    )


def _notices(
    nct_id: str,
    subject: str,
    lines: Sequence[str],
    key: str,
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    *,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> tuple[Outgoing, ...]:
    """The same plain notice about the subscription to `nct_id`, once to each subscriber."""

    def notice(person: Subscriber, _: Subscription) -> Outgoing:
        context = {
            "headline": subject,
            "lines": lines,
            "nct_id": nct_id,
            "url": registry_url(nct_id),
            **footer(person, letterhead),
        }
        return _email(
            person,
            subject,
            "notice",
            context,
            key=f"{key}/p{person.id}",
            letterhead=letterhead,
            render=render,
            now=now,
        )

    return _once_each(subscriptions, notice)


def _once_each(
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    notice: Callable[[Subscriber, Subscription], Outgoing],
) -> tuple[Outgoing, ...]:
    """A notice about a subscription itself goes once to a person who follows the trial by
    several subscriptions (say, as a patient and as a coordinator): their first one speaks."""
    messages: dict[int, Outgoing] = {}
    for person, subscription in subscriptions:
        if person.id not in messages:
            messages[person.id] = notice(person, subscription)
    return tuple(messages.values())


def _email(
    person: Subscriber,
    subject: str,
    template: str,
    context: dict[str, Any],
    *,
    key: str,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
    attachments: Sequence[Attachment] = (),
    search_id: int | None = None,
) -> Outgoing:
    """A subscriber's message from the `template` pair (text and HTML) and its outbox row;
    one about a saved search (`search_id`) leaves that search only."""
    message = build_email(
        sender=letterhead.sender,
        to=person.email,
        subject=subject,
        text=render(f"{template}.txt.j2", **context),
        html=render(f"{template}.html.j2", **context),
        key=key,
        date=now,
        unsubscribe=unsubscribe_targets(
            person.unsubscribe_token,
            letterhead.web_base_url,
            letterhead.sender,
            search_id=search_id,
        ),
        attachments=attachments,
    )
    return Outgoing(key, "email", person.email, subject, wire_bytes(message), person.id)


def webhook_body(
    nct_id: str, version: int, trial: Trial, changes: Sequence[Change], now: datetime
) -> bytes:
    """The JSON a webhook receives: the trial, the version and its changes with sentences."""
    return json.dumps(
        {
            "nct_id": nct_id,
            "version": version,
            "detected_at": now.isoformat(),
            "title": trial.brief_title,
            "url": registry_url(nct_id),
            "changes": [c.to_dict() for c in changes],
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode("utf-8")


def channel_message(
    nct_id: str,
    version: int,
    trial: Trial,
    changes: Sequence[Change],
    channel: ChannelTarget,
    *,
    glossary: Glossary,
    letterhead: Letterhead,
    render: Renderer,
) -> Outgoing | None:
    """One chat message about a new version for `channel`, None when nothing in it is for them.

    A channel hears what a subscription of its audience and kinds would (`select`, so a patient
    channel skips registry bookkeeping), in the same words as that subscriber's email:
    `patient_changes` or `coordinator_changes`, laid out by the `channel.txt.j2` template, the
    subject line as its title. The body is JSON (title and text) for the Apprise transport.
    """
    wish = Subscription(
        0, 0, nct_id, channel.audience, kinds=frozenset(channel.kinds) if channel.kinds else None
    )
    chosen = select(wish, changes)
    summary = change_summary(wish, chosen, glossary) if chosen else None
    if summary is None or summary.empty:
        return None
    text = render(
        "channel.txt.j2",
        changes=summary,
        page=trial_page(nct_id, channel.audience, letterhead),
    )
    return chat_message(f"{nct_id}/v{version}", channel.name, headline(chosen, trial), text)


def chat_message(about: str, channel: str, title: str, text: str) -> Outgoing:
    """A chat message's outbox row: JSON with its title and text for the Apprise transport,
    keyed by what it is `about` ("NCT…/v3", "search/2/<release>") and the channel's name."""
    body = json.dumps({"title": title, "body": text}, ensure_ascii=False).encode("utf-8")
    return Outgoing(f"{about}/channel-{channel}", "apprise", channel, title, body)


def hook_key(nct_id: str, version: int, url: str) -> str:
    """A webhook message's key; the URL is hashed so keys stay short and free of secrets."""
    return f"{nct_id}/v{version}/hook-{sha256(url.encode('utf-8')).hexdigest()[:16]}"


def addressee(key: str) -> str:
    """Whom an outbox row is for, without their address, read back from its key.

    "subscription 3" (an immediate email, a welcome), "subscriber 12" (a digest, a notice about
    the subscription itself), "a webhook", "channel trial-office", "the admin"
    (`Alert.key`): what `status` names a failed message by, since it must not print addresses.
    """
    parts = key.split("/")
    if parts[0] == "admin":
        return "the admin"
    if parts[0] == "digest" and len(parts) > 2:
        return f"subscriber {parts[2].removeprefix('p')}"
    if parts[-1].startswith("hook-"):
        return "a webhook"
    if parts[-1].startswith("channel-"):
        return f"channel {parts[-1].removeprefix('channel-')}"
    if parts[-1].startswith("s"):
        return f"subscription {parts[-1].removeprefix('s')}"
    if parts[-1].startswith("p"):  # a notice about the subscription itself (moved, gone…)
        return f"subscriber {parts[-1].removeprefix('p')}"
    return "a recipient"


def plan_notices(
    nct_id: str,
    version: int,
    trial: Trial,
    changes: Sequence[Change],
    subscriptions: Iterable[tuple[Subscriber, Subscription]],
    webhooks: Sequence[HookTarget],
    *,
    glossary: Glossary,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
    channels: Sequence[ChannelTarget] = (),
) -> Notices:
    """The emails, digest entries, webhook POSTs and chat messages (to `channels`, those that
    follow this trial) that version `version` of a trial causes.

    Planned once per distinct message: subscribers who share an audience, a choice of kinds
    and a place (a `Wish`) hear of the same changes in the same words, so the changes are
    worded once per wish, the trial once per audience (its sites once per place), and each
    distinct email is built once and filled in with each reader's own parts
    (`watcher.core.mailmerge`): byte for byte the email built for that reader alone.
    """
    messages: list[Outgoing] = []
    digests: list[tuple[int, tuple[int, ...]]] = []
    chosen_by: dict[Wish, list[Change]] = {}
    letters: dict[Wish, Merge | None] = {}

    @cache
    def worded(audience: str) -> TrialSummary:
        # A change email shows no criteria (the page it links to does) and only a patient's
        # nearest sites (`trial_email`): a coordinator's summary is worded without sites.
        sited = trial if audience == "patient" else replace(trial, sites=())
        return trial_summary(sited, audience, glossary, criteria=False)

    @cache
    def about(audience: str, near: Near | None) -> TrialSummary:
        # `trial_summary` has placed the sites for no place already: most readers name none.
        if near is None or audience != "patient":
            return worded(audience)
        return worded(audience).placed(trial, near)

    def letter(subscription: Subscription, chosen: Sequence[Change]) -> Merge | None:
        summary = change_summary(subscription, chosen, glossary)
        if summary.empty:
            return None
        summarised = about(subscription.audience, subscription.near)
        return Merge(
            lambda person, key: trial_email(
                person,
                trial,
                chosen,
                summary,
                summarised,
                key=key,
                letterhead=letterhead,
                render=render,
                now=now,
            )
        )

    for person, subscription in subscriptions:
        wish = (subscription.audience, subscription.kinds, subscription.near)
        if wish not in chosen_by:
            chosen_by[wish] = select(subscription, changes)
        chosen = chosen_by[wish]
        if not chosen:
            continue
        if subscription.delivery != "immediate":
            wanted = {id(c) for c in chosen}
            digests.append(
                (subscription.id, tuple(i for i, c in enumerate(changes) if id(c) in wanted))
            )
            continue
        if wish not in letters:
            letters[wish] = letter(subscription, chosen)
        merge = letters[wish]
        if merge is not None:
            messages.append(merge(person, f"{nct_id}/v{version}/s{subscription.id}"))
    for hook in webhooks:
        batch = [c for c in changes if not hook.kinds or c.kind in hook.kinds]
        if batch:
            body = webhook_body(nct_id, version, trial, batch, now)
            subject = headline(batch, trial)
            messages.append(
                Outgoing(hook_key(nct_id, version, hook.url), "webhook", hook.url, subject, body)
            )
    for channel in channels:
        said = channel_message(
            nct_id,
            version,
            trial,
            changes,
            channel,
            glossary=glossary,
            letterhead=letterhead,
            render=render,
        )
        if said is not None:
            messages.append(said)
    return Notices(version, tuple(messages), tuple(digests))


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One trial in a digest: what it is called and what changed in it."""

    nct_id: str
    title: str
    url: str
    changes: ChangeSummary


@dataclass(frozen=True, slots=True)
class TrialOverview:
    """One trial a subscriber follows, as the table at the top of a coordinator digest shows it:
    where it stands now, whatever changed today."""

    nct_id: str
    title: str
    status: str  # "Recruiting"; "not checked yet" before a version is stored
    recruiting_sites: int | None  # None before a version is stored
    last_change: str  # "2026-03-10", the day the newest change was found; "none yet"

    @property
    def url(self) -> str:
        """The trial's page on ClinicalTrials.gov."""
        return registry_url(self.nct_id)


def digest_email(
    person: Subscriber,
    items: Sequence[tuple[Subscription, StoredChange]],
    *,
    delivery: str,
    followed: Sequence[TrialOverview],
    glossary: Glossary,
    letterhead: Letterhead,
    render: Renderer,
    now: datetime,
) -> Outgoing | None:
    """One daily or weekly message with every change waiting for `person`; None when empty.

    `followed` is every trial the person follows (the titles come from it). A digest with a
    coordinator's changes opens with a table of those trials (`TrialOverview`), and carries
    every such change, one row each (every site), in an attached `changes.csv`: the message
    counts many site changes by old → new status, the spreadsheet lists them all.

    The key names the newest change it carries: a digest queued again after a crash (before its
    items were consumed) is the same message, and the outbox keeps one.
    """
    titles = {trial.nct_id: trial.title for trial in followed}
    by_trial: dict[str, tuple[Subscription, list[StoredChange]]] = {}
    for subscription, stored in items:
        by_trial.setdefault(stored.nct_id, (subscription, []))[1].append(stored)
    sections = []
    exact: list[StoredChange] = []
    for nct_id, (subscription, stored_changes) in sorted(by_trial.items()):
        summary = change_summary(subscription, [s.change for s in stored_changes], glossary)
        if not summary.empty:
            url = registry_url(nct_id)
            sections.append(DigestSection(nct_id, titles.get(nct_id) or nct_id, url, summary))
            if subscription.audience == "coordinator":
                exact += stored_changes
    if not sections:
        return None
    newest = max(stored.id for _, stored in items)
    key = f"digest/{delivery}/p{person.id}/c{newest}"
    count = len(sections)
    what = sections[0].nct_id if count == 1 else f"{count} trials"
    subject = f"Your {delivery} trialwatch digest: {what} changed"
    attachments = (Attachment(CSV_NAME, "text/csv", changes_csv(exact)),) if exact else ()
    context = {
        "headline": subject,
        "delivery": delivery,
        "overview": tuple(followed) if exact else (),
        "sections": sections,
        "csv_name": CSV_NAME if exact else None,
        "csv_rows": len(exact),
        **footer(person, letterhead),
    }
    return _email(
        person,
        subject,
        "digest",
        context,
        key=key,
        letterhead=letterhead,
        render=render,
        now=now,
        attachments=attachments,
    )


def trial_overview(
    nct_id: str, trial: Trial | None, title: str | None, last_change: str | None
) -> TrialOverview:
    """Where a followed trial stands: its status and recruiting sites in its newest stored
    version (`trial`, None before one is stored), and the day its newest change was found
    (`last_change`, a stored change's `detected_at`)."""
    if trial is None:
        return TrialOverview(nct_id, title or nct_id, "not checked yet", None, "none yet")
    status = code_words(trial.overall_status) if trial.overall_status else ""
    recruiting = sum(1 for site in trial.sites if site.status == "RECRUITING")
    return TrialOverview(
        nct_id,
        title or trial.brief_title or nct_id,
        status or "not given",
        recruiting,
        last_change[:10] if last_change else "none yet",
    )
