"""A trial's story over its stored versions: what `trialwatch timeline` tells (pure).

A diff says what changed between two versions; someone who finds a trial today wants the whole
story at once: how long it has been recruiting, how its planned size moved, where sites opened
and closed, which rules for joining were edited and when the end date slipped. `build_timeline`
reads that story, as data, from an ordered run of versions; `patient_sentences` and
`coordinator_sentences` say it, and `Timeline.to_json` gives the same facts to scripts.

Choices, each for the reader:

- Versions come as `TimelineVersion`s (number, date, which registry date that is, the parsed
  trial, source), oldest first. Nothing here knows how a version was fetched: polled versions and
  versions backfilled from the registry's history read the same.
- Dates are the registry's, never when trialwatch fetched: a version is dated by the date its
  caller gives (the record's last update posted date, or the history's QC date), and a change to
  "recruiting" or "completed" is dated by the record's actual start or completion date when that
  falls between the two versions, since that is when it really happened. Each date says which
  registry date it is (`*_basis` in the JSON).
- The first stored version only shows the status it had by then: that period's start is marked
  `start_known = false` and worded "by …", never as if the trial began that day.
- Durations of an ongoing period run to the newest version's date, not to today (no clock here).
- Site changes are grouped by month and country, so a hundred new sites are one line per country.
- Eligibility edits reuse the diff and the change sentences every other output uses.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from watcher.core.change import Change
from watcher.core.diff import diff_trials
from watcher.core.record import JSON, DatePoint, Trial
from watcher.core.worddiff import CONTEXT_WORDS, marked_text, side, word_diff
from watcher.core.wording.sentences import change_sentence
from watcher.core.wording.words import count_words, date_words, status_words, text_of

# Statuses a trial ends in: said "on" a date, not "since".
_FINAL = frozenset({"COMPLETED", "TERMINATED", "WITHDRAWN"})
# A site whose status moves to one of these no longer takes people: it counts as closed.
_CLOSED_SITE = frozenset(
    {"ACTIVE_NOT_RECRUITING", "COMPLETED", "TERMINATED", "WITHDRAWN", "SUSPENDED"}
)
# The record's own date for the day a status began, when it has one: its name and where it is.
_STATUS_DATE: dict[str, tuple[str, Callable[[Trial], DatePoint | None]]] = {
    "RECRUITING": ("start_date", lambda t: t.start_date),
    "COMPLETED": ("completion_date", lambda t: t.completion_date),
}
# The completion dates whose moves are told, and where each is in a trial.
_COMPLETION_DATES: dict[
    Literal["completion_date", "primary_completion_date"], Callable[[Trial], DatePoint | None]
] = {
    "completion_date": lambda t: t.completion_date,
    "primary_completion_date": lambda t: t.primary_completion_date,
}
_DAYS_PER_MONTH = 30.44
_ISO = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")
_DATE_NAMES = {
    "completion_date": "the planned end",
    "primary_completion_date": "the date for the last data on the main question",
}


@dataclass(frozen=True, slots=True)
class TimelineVersion:
    """One version of the trial as the registry dated it; `date` is ISO (day or month)."""

    number: int
    date: str
    date_basis: str  # which registry date `date` is, e.g. "last_update_posted"
    trial: Trial
    source: str  # "poll", "history", …: shown, never acted on


@dataclass(frozen=True, slots=True)
class StatusPeriod:
    """A stretch of time with one overall status; `end` None while it lasts."""

    status: str
    start: str
    start_basis: str
    start_known: bool  # False: the first stored version, so the status may be older
    end: str | None
    end_basis: str | None
    days: int | None
    months: int | None


@dataclass(frozen=True, slots=True)
class EnrollmentPoint:
    """How many people the trial planned (ESTIMATED) or had (ACTUAL) from a date on."""

    date: str
    date_basis: str
    version: int
    count: int | None
    type: str | None


@dataclass(frozen=True, slots=True)
class SiteMonth:
    """Sites added and closed in one country in one month."""

    month: str  # YYYY-MM
    country: str | None
    added: tuple[str, ...]  # site labels
    closed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EligibilityEdit:
    """A change to who can join: a criterion, an age or the sex, with its changed words."""

    date: str
    date_basis: str
    version: int
    change: Change
    removed_words: str | None  # the old words shown (for a criterion that was reworded)
    added_words: str | None
    marked: str | None  # both, marked as `git diff --word-diff` does: "[-old-]{+new+}"


@dataclass(frozen=True, slots=True)
class DateMove:
    """A planned (or actual) completion date that moved."""

    which: Literal["completion_date", "primary_completion_date"]
    date: str  # when the move was posted
    date_basis: str
    version: int
    old: str | None
    old_type: str | None
    new: str | None
    new_type: str | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything `trialwatch timeline` tells about one trial."""

    nct_id: str
    title: str | None
    versions: int
    dated: tuple[tuple[int, str, str, str], ...]  # each version: number, date, basis, source
    first: str
    as_of: str
    as_of_basis: str
    statuses: tuple[StatusPeriod, ...]
    enrollment: tuple[EnrollmentPoint, ...]
    sites: tuple[SiteMonth, ...]
    eligibility: tuple[EligibilityEdit, ...]
    completion: tuple[DateMove, ...]

    def to_json(self) -> dict[str, JSON]:
        """The same facts as data, dates in ISO form with the registry date each one is."""
        return {
            "nct_id": self.nct_id,
            "title": self.title,
            "versions": self.versions,
            "version_dates": [
                {"version": number, "date": day, "date_basis": basis, "source": source}
                for number, day, basis, source in self.dated
            ],
            "first_version_date": self.first,
            "as_of": self.as_of,
            "as_of_basis": self.as_of_basis,
            "statuses": [
                {
                    "status": p.status,
                    "start": p.start,
                    "start_basis": p.start_basis,
                    "start_known": p.start_known,
                    "end": p.end,
                    "end_basis": p.end_basis,
                    "days": p.days,
                    "months": p.months,
                }
                for p in self.statuses
            ],
            "enrollment": [
                {
                    "date": e.date,
                    "date_basis": e.date_basis,
                    "version": e.version,
                    "count": e.count,
                    "type": e.type,
                }
                for e in self.enrollment
            ],
            "sites": [
                {
                    "month": s.month,
                    "country": s.country,
                    "added": list(s.added),
                    "closed": list(s.closed),
                }
                for s in self.sites
            ],
            "eligibility": [
                {
                    "date": e.date,
                    "date_basis": e.date_basis,
                    "version": e.version,
                    "change": e.change.to_dict(),
                    "removed_words": e.removed_words,
                    "added_words": e.added_words,
                    "marked": e.marked,
                }
                for e in self.eligibility
            ],
            "completion_dates": [
                {
                    "which": m.which,
                    "date": m.date,
                    "date_basis": m.date_basis,
                    "version": m.version,
                    "old": m.old,
                    "old_type": m.old_type,
                    "new": m.new,
                    "new_type": m.new_type,
                }
                for m in self.completion
            ],
        }


def _day(iso: str) -> date | None:
    """An ISO day or month as a day (a month as its first day); None when it is neither."""
    match = _ISO.fullmatch(iso)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3) or 1))
    except ValueError:
        return None


def _actual(point: DatePoint | None) -> str | None:
    return point.date if point is not None and point.type == "ACTUAL" and point.date else None


def _began(status: str, before: TimelineVersion, now: TimelineVersion) -> tuple[str, str]:
    """When a status first seen in `now` began: the record's own date for it when that falls
    after `before` and by `now`, else the date `now` was posted."""
    named = _STATUS_DATE.get(status)
    actual = _actual(named[1](now.trial)) if named else None
    low, high, when = _day(before.date), _day(now.date), _day(actual or "")
    if named and actual and low and high and when and low < when <= high:
        return actual, named[0]
    return now.date, now.date_basis


def _length(start: str, end: str) -> tuple[int | None, int | None]:
    first, last = _day(start), _day(end)
    if first is None or last is None or last < first:
        return None, None
    days = (last - first).days
    return days, round(days / _DAYS_PER_MONTH)


def _statuses(versions: Sequence[TimelineVersion]) -> list[StatusPeriod]:
    starts: list[tuple[str, str, str, bool]] = []  # status, start, basis, known
    first = versions[0]
    status = first.trial.overall_status or "UNKNOWN"
    actual = _actual(first.trial.start_date)
    if (
        status == "RECRUITING"
        and actual
        and (_day(actual) or date.max) <= (_day(first.date) or date.min)
    ):
        starts.append((status, actual, "start_date", True))
    else:
        starts.append((status, first.date, first.date_basis, False))
    for before, now in itertools.pairwise(versions):
        status = now.trial.overall_status or "UNKNOWN"
        if status != starts[-1][0]:
            start, basis = _began(status, before, now)
            starts.append((status, start, basis, True))
    periods: list[StatusPeriod] = []
    for (status, start, basis, known), after in itertools.zip_longest(starts, starts[1:]):
        end, end_basis = (after[1], after[2]) if after else (None, None)
        days, months = _length(start, end or versions[-1].date)
        periods.append(StatusPeriod(status, start, basis, known, end, end_basis, days, months))
    return periods


def _enrollment(versions: Sequence[TimelineVersion]) -> list[EnrollmentPoint]:
    points: list[EnrollmentPoint] = []
    for v in versions:
        e = v.trial.enrollment
        count, kind = (e.count, e.type) if e is not None else (None, None)
        if not points or (points[-1].count, points[-1].type) != (count, kind):
            points.append(EnrollmentPoint(v.date, v.date_basis, v.number, count, kind))
    return points


def _site_label(change: Change) -> str:
    return change.site.label() if change.site is not None else "a site"


def _sites(steps: Sequence[tuple[TimelineVersion, list[Change]]]) -> list[SiteMonth]:
    grouped: dict[tuple[str, str | None], tuple[list[str], list[str]]] = {}
    for version, changes in steps:
        for c in changes:
            added = c.kind == "site_added"
            closed = c.kind == "site_removed" or (
                c.kind == "site_status" and c.new in _CLOSED_SITE and c.old not in _CLOSED_SITE
            )
            if added or closed:
                country = c.site.country if c.site is not None else None
                lists = grouped.setdefault((version.date[:7], country), ([], []))
                lists[0 if added else 1].append(_site_label(c))
    return [
        SiteMonth(month, country, tuple(added), tuple(closed))
        for (month, country), (added, closed) in grouped.items()
    ]


def _eligibility(steps: Sequence[tuple[TimelineVersion, list[Change]]]) -> list[EligibilityEdit]:
    edits: list[EligibilityEdit] = []
    for version, changes in steps:
        for c in changes:
            if c.kind not in ("eligibility", "age_sex"):
                continue
            removed = added = marked = None
            if c.kind == "eligibility" and c.old is not None and c.new is not None:
                spans = word_diff(text_of(c.old) or "", text_of(c.new) or "", CONTEXT_WORDS)
                removed, added, marked = side(spans, "del"), side(spans, "ins"), marked_text(spans)
            edits.append(
                EligibilityEdit(
                    version.date, version.date_basis, version.number, c, removed, added, marked
                )
            )
    return edits


def _completion(versions: Sequence[TimelineVersion]) -> list[DateMove]:
    moves: list[DateMove] = []
    for before, now in itertools.pairwise(versions):
        for which, point in _COMPLETION_DATES.items():
            old, new = point(before.trial), point(now.trial)
            if (old and old.date) != (new and new.date):
                moves.append(
                    DateMove(
                        which,
                        now.date,
                        now.date_basis,
                        now.number,
                        old.date if old else None,
                        old.type if old else None,
                        new.date if new else None,
                        new.type if new else None,
                    )
                )
    return moves


def build_timeline(versions: Sequence[TimelineVersion]) -> Timeline:
    """The story of a trial over `versions` (oldest first, at least one)."""
    if not versions:
        raise ValueError("a timeline needs at least one version")
    steps = [
        (now, diff_trials(before.trial, now.trial)) for before, now in itertools.pairwise(versions)
    ]
    latest = versions[-1]
    return Timeline(
        nct_id=latest.trial.nct_id or "",
        title=latest.trial.brief_title,
        versions=len(versions),
        dated=tuple((v.number, v.date, v.date_basis, v.source) for v in versions),
        first=versions[0].date,
        as_of=latest.date,
        as_of_basis=latest.date_basis,
        statuses=tuple(_statuses(versions)),
        enrollment=tuple(_enrollment(versions)),
        sites=tuple(_sites(steps)),
        eligibility=tuple(_eligibility(steps)),
        completion=tuple(_completion(versions)),
    )


# -- saying it ---------------------------------------------------------------------------------


def _month(iso: str) -> str:
    return date_words(iso[:7])


def _how_long(period: StatusPeriod) -> str:
    if not period.days or period.months is None:
        return ""
    if period.months >= 1:
        amount = count_words(period.months, "month", "months")
    else:
        amount = count_words(period.days, "day", "days")
    return f" ({amount}{'' if period.end else ' so far'})"


def _status_sentence(period: StatusPeriod) -> str:
    state = status_words(period.status)
    state = state[:1].upper() + state[1:]
    start = date_words(period.start)
    if period.end is None and period.status in _FINAL:
        return f"{state} on {start}."
    if not period.start_known:  # it began before the oldest version: say when we know of
        if period.end is None:
            return f"Since {start} (the oldest version we have): {state.lower()}."
        end = date_words(period.end)
        return f"From {start} (the oldest version we have) to {end}: {state.lower()}."
    if period.end is None:
        return f"{state} since {start}{_how_long(period)}."
    return f"{state} from {start} to {date_words(period.end)}{_how_long(period)}."


def _enrollment_sentence(before: EnrollmentPoint | None, now: EnrollmentPoint) -> str:
    when = _month(now.date)
    if now.count is None:
        return f"In {when} the study stopped saying how many people it will enroll."
    people = count_words(now.count, "person", "people")
    if now.type == "ACTUAL":
        had = f" It had planned {before.count}." if before and before.count is not None else ""
        return f"In {when} the study said {people} had joined.{had}"
    if before is None or before.count is None:
        return f"In {when} the study planned to enroll {people}."
    way = "raised" if now.count > before.count else "lowered"
    return f"The planned size was {way} from {before.count} to {people} in {when}."


def _site_sentences(group: SiteMonth) -> Iterator[str]:
    where = f" in {group.country}" if group.country else ""
    when = _month(group.month)
    if group.added:
        yield f"{count_words(len(group.added), 'site', 'sites')} added{where} in {when}."
    if group.closed:
        yield f"{count_words(len(group.closed), 'site', 'sites')} closed{where} in {when}."


def _move_sentence(move: DateMove) -> str:
    name = _DATE_NAMES[move.which]
    if move.new is None:
        return f"In {_month(move.date)} the study stopped giving {name}."
    if move.old is None:
        return f"In {_month(move.date)} the study set {name} at {date_words(move.new)}."
    return (
        f"In {_month(move.date)}, {name} moved from {date_words(move.old)}"
        f" to {date_words(move.new)}."
    )


def patient_sentences(timeline: Timeline) -> list[str]:
    """The story in short, plain sentences, one fact each, oldest first within each part."""
    lines = [_status_sentence(p) for p in timeline.statuses]
    lines += [
        _enrollment_sentence(before, now)
        for before, now in zip((None, *timeline.enrollment), timeline.enrollment, strict=False)
    ]
    lines += [s for group in timeline.sites for s in _site_sentences(group)]
    lines += [f"In {_month(e.date)}: {change_sentence(e.change)}" for e in timeline.eligibility]
    lines += [_move_sentence(m) for m in timeline.completion]
    return lines


def _exact_period(p: StatusPeriod) -> str:
    start = p.start if p.start_known else f"≤{p.start}"
    length = f", {p.days} days" if p.days is not None else ""
    return f"{p.status}: {start} ({p.start_basis}) → {p.end or 'now'}{length}"


def _exact_edit(e: EligibilityEdit) -> str:
    c = e.change
    what = e.marked or f"{text_of(c.old) or '(none)'} → {text_of(c.new) or '(none)'}"
    return f"{e.date} v{e.version} {c.field.rsplit('.', 1)[-1]}: {what}"


def coordinator_sentences(timeline: Timeline) -> list[str]:
    """The story with the registry's exact values, codes and ISO dates."""
    lines = [_exact_period(p) for p in timeline.statuses]
    lines += [f"{e.date} v{e.version} enrollment {e.count} {e.type}" for e in timeline.enrollment]
    for g in timeline.sites:
        for verb, names in (("added", g.added), ("closed", g.closed)):
            if names:
                lines.append(
                    f"{g.month} {g.country or '-'} {verb} {len(names)}: {'; '.join(names)}"
                )
    lines += [_exact_edit(e) for e in timeline.eligibility]
    lines += [
        f"{m.date} v{m.version} {m.which}: {m.old} {m.old_type} → {m.new} {m.new_type}"
        for m in timeline.completion
    ]
    return lines
