"""Wording: the one place a change or a trial becomes words (pure).

Every output — the sentence stored with each change, emails, digests, feeds, `trialwatch diff`,
`trialwatch summary` — takes its words from here, so a date, a status or a contact reads the
same wherever it is shown, and a wording fix is made once. Nothing here does I/O: these modules
decide what is said, as strings and plain data; `watcher.delivery.templates` lays it out.

The modules, in the order the flow uses them (see docs/ARCHITECTURE.md):

- `words`: the shared vocabulary (registry codes, dates, ages, contacts, names, shortening);
- `sentences`: `change_sentence`, the one sentence stored beside each change at poll time;
- `labels`: what a registry field and value are called (never a JSON path, never JSON);
- `exact`: the exact old → new lines coordinators, feeds and `trialwatch diff` show;
- `changes`: what a notification says happened, for patients and coordinators, and its subject;
- `trial`, `trial_facts` and `key_facts`: what a trial is, for `trialwatch summary` and a first
  email (the key facts first);
- `timeline`: a trial's story over its stored versions, for `trialwatch timeline`.
"""

from watcher.core.wording.changes import (
    ChangeBlock,
    ChangeLine,
    ChangeSummary,
    coordinator_changes,
    headline,
    moved_headline,
    moved_summary,
    patient_changes,
)
from watcher.core.wording.exact import HEADINGS, format_changes, summarize_line
from watcher.core.wording.key_facts import KeyFact
from watcher.core.wording.sentences import change_sentence
from watcher.core.wording.trial import (
    CLOSING,
    CriteriaSection,
    Criterion,
    SiteLine,
    TrialSummary,
    trial_summary,
)
from watcher.core.wording.trial_facts import Fact

__all__ = [
    "CLOSING",
    "HEADINGS",
    "ChangeBlock",
    "ChangeLine",
    "ChangeSummary",
    "CriteriaSection",
    "Criterion",
    "Fact",
    "KeyFact",
    "SiteLine",
    "TrialSummary",
    "change_sentence",
    "coordinator_changes",
    "format_changes",
    "headline",
    "moved_headline",
    "moved_summary",
    "patient_changes",
    "summarize_line",
    "trial_summary",
]
