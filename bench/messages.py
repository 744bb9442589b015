"""How long the emails people get are, in words, on every recorded change of a trial.

Run from the checkout:

    python bench/messages.py           # per email kind: count, median and max words, targets
    python bench/messages.py --json    # the same figures as JSON
    python bench/messages.py --each    # one line per email (kind, trial, words, subject)

The emails are built exactly as the poll builds them (`watcher.core.notify.plan_notices` with
the real templates, the packaged glossary and the default settings, so no `[web] base_url`):
for every pair of consecutive recorded versions of a trial (`conftest.consecutive_versions()`:
`tests/fixtures/ctgov/` and `watcher/demo_data/`), the immediate email a patient (no `--near`)
and a coordinator would get; a pair whose changes say nothing to an audience sends it nothing
and is not counted. For every recorded trial, at its newest version, the email its patient
subscribers get when the registry lists it under another NCT ID (`moved_notices`). For every
pair, the daily digest a coordinator would get for that trial alone (`digest_email`).

Words are counted in the plain-text part as `wc -w` counts them (runs of non-space), footer and
links included: it is what the reader scrolls through. Targets (issue 14, "Done when") are
printed beside each figure with PASS or FAIL; the bench always exits 0: it reports, the tests
gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import consecutive_versions, version_chains  # noqa: E402  (needs the paths above)

from watcher.core.change import StoredChange  # noqa: E402
from watcher.core.diff import diff_trials  # noqa: E402
from watcher.core.glossary import Glossary  # noqa: E402
from watcher.core.message import Outgoing  # noqa: E402
from watcher.core.notify import (  # noqa: E402
    Letterhead,
    TrialOverview,
    digest_email,
    moved_notices,
    plan_notices,
)
from watcher.core.record import Trial, parse_trial  # noqa: E402
from watcher.core.subscriptions import Subscriber, Subscription  # noqa: E402
from watcher.data import load_glossary  # noqa: E402
from watcher.delivery.templates import render  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LETTERHEAD = Letterhead("trialwatch <alerts@trials.example.org>")
PERSON = Subscriber(1, "reader@example.org", "unsubscribe-token", "feed-token")
# (median, max) words per kind; None: the issue sets no target for that kind.
TARGETS: dict[str, tuple[int | None, int | None]] = {
    "patient change": (250, 600),
    "coordinator change": (None, None),
    "coordinator digest (one trial)": (None, None),
    "moved trial (patient)": (None, None),
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One email as its reader gets it: its kind, trial, subject and plain-text word count."""

    kind: str
    nct_id: str
    subject: str
    words: int


def text_part(body: bytes) -> str:
    """The plain-text part of an email's bytes, as a mail program shows it."""
    message = BytesParser(policy=policy.default).parsebytes(body)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def sample(kind: str, nct_id: str, outgoing: Outgoing) -> Sample:
    return Sample(kind, nct_id, outgoing.subject, len(text_part(outgoing.body).split()))


def read(path: Path) -> Trial:
    return parse_trial(json.loads(path.read_text(encoding="utf-8")))


def change_emails(glossary: Glossary) -> Iterator[Sample]:
    """The immediate emails and a one-trial digest of every recorded version pair."""
    patient = Subscription(1, PERSON.id, "", audience="patient")
    coordinator = Subscription(2, PERSON.id, "", audience="coordinator")
    kinds = {patient.id: "patient change", coordinator.id: "coordinator change"}
    for old_path, new_path in consecutive_versions():
        old, new = read(old_path), read(new_path)
        nct_id = new.nct_id or old_path.name.split("__")[0]
        changes = diff_trials(old, new)
        subscriptions = [(PERSON, s) for s in (patient, coordinator)]
        notices = plan_notices(
            nct_id,
            2,
            new,
            changes,
            subscriptions,
            (),
            glossary=glossary,
            letterhead=LETTERHEAD,
            render=render,
            now=NOW,
        )
        for outgoing in notices.messages:
            yield sample(kinds[int(outgoing.key.rsplit("/s", 1)[1])], nct_id, outgoing)
        stored = [
            (coordinator, StoredChange(i + 1, nct_id, 1, 2, NOW.isoformat(), change))
            for i, change in enumerate(changes)
        ]
        digest = digest_email(
            PERSON,
            stored,
            delivery="daily",
            followed=[overview_of(nct_id, new)],
            glossary=glossary,
            letterhead=LETTERHEAD,
            render=render,
            now=NOW,
        )
        if digest is not None:
            yield sample("coordinator digest (one trial)", nct_id, digest)


def overview_of(nct_id: str, trial: Trial) -> TrialOverview:
    """The digest's table row for a trial at its new version."""
    recruiting = sum(site.status == "RECRUITING" for site in trial.sites)
    status = trial.overall_status or "not checked yet"
    return TrialOverview(
        nct_id, trial.brief_title or nct_id, status, recruiting, NOW.date().isoformat()
    )


def moved_emails(glossary: Glossary) -> Iterator[Sample]:
    """The "now listed as" email of every recorded trial, at its newest version."""
    for nct_id, paths in version_chains().items():
        trial = read(paths[-1])
        (outgoing,) = moved_notices(
            "NCT00000000",
            trial,
            [(PERSON, Subscription(1, PERSON.id, "NCT00000000"))],
            glossary=glossary,
            letterhead=LETTERHEAD,
            render=render,
            now=NOW,
        )
        yield sample("moved trial (patient)", nct_id, outgoing)


def figures(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Per kind: how many emails, the median and the max words, and the targets met."""
    out = []
    for kind, (median_target, max_target) in TARGETS.items():
        words = [s.words for s in samples if s.kind == kind]
        if not words:
            continue
        median, most = statistics.median(words), max(words)
        longest = max((s for s in samples if s.kind == kind), key=lambda s: s.words)
        out.append(
            {
                "kind": kind,
                "emails": len(words),
                "median_words": median,
                "max_words": most,
                "longest": longest.nct_id,
                "median_target": median_target,
                "max_target": max_target,
                "pass": (median_target is None or median <= median_target)
                and (max_target is None or most <= max_target),
            }
        )
    return out


def _target(value: int | None) -> str:
    return "—" if value is None else f"≤ {value}"


def print_figures(rows: Sequence[dict[str, Any]]) -> None:
    print(
        f"{'email kind':32} {'emails':>6} {'median':>7} {'target':>7} "
        f"{'max':>6} {'target':>7} {'longest':>12}"
    )
    for row in rows:
        verdict = "" if row["median_target"] is None else ("PASS" if row["pass"] else "FAIL")
        print(
            f"{row['kind']:32} {row['emails']:>6} {row['median_words']:>7g} "
            f"{_target(row['median_target']):>7} {row['max_words']:>6} "
            f"{_target(row['max_target']):>7} {row['longest']:>12} {verdict}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--each", action="store_true", help="one line per email")
    args = parser.parse_args(argv)
    glossary = load_glossary()
    samples = [*change_emails(glossary), *moved_emails(glossary)]
    if args.each:
        for s in sorted(samples, key=lambda s: (s.kind, -s.words)):
            print(f"{s.kind:32} {s.nct_id:12} {s.words:>6}  {s.subject}")
        return 0
    rows = figures(samples)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        print_figures(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
