"""The labelled paragraphs at the top of a trial summary ("Phase", "Status", …) (pure).

A patient gets what a trial tests, its phase and status with what they mean, and who can join,
in everyday words from the glossary; a coordinator gets the registry's own values, field by
field, nothing rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watcher.core.glossary import Glossary
from watcher.core.record import Trial
from watcher.core.wording.words import (
    age_words,
    code_words,
    contacts_words,
    field_words,
    listing,
    phase_words,
    quoted,
)


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled paragraph: "Phase", "Status", "Age and sex"…"""

    label: str
    text: str


_INTERVENTION_TYPES = {
    "DRUG": "a drug",
    "BIOLOGICAL": "a biological medicine",
    "DEVICE": "a device",
    "PROCEDURE": "a procedure",
    "RADIATION": "radiation",
    "BEHAVIORAL": "a behavior program",
    "GENETIC": "a gene-based treatment",
    "DIETARY_SUPPLEMENT": "a dietary supplement",
    "COMBINATION_PRODUCT": "a combination product",
    "DIAGNOSTIC_TEST": "a test",
}
_COMPARATOR_ARMS = frozenset({"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR"})
_LISTED_MAX = 4


def _treatments(trial: Trial) -> tuple[list[str], list[str]]:
    """(what is tested, what it is compared with), each as "Name (a drug)"."""
    labels: dict[str, list[str]] = {}
    for arm in trial.arm_groups:
        for name in arm.intervention_names:
            labels.setdefault(name.split(": ", 1)[-1], []).append(arm.type or "")
    tested: list[str] = []
    compared: list[str] = []
    named: set[str] = set()
    for intervention in trial.interventions:
        name = intervention.name or "an unnamed treatment"
        if name.casefold() in named:  # "Omalizumab" in one arm, "omalizumab" in another
            continue
        named.add(name.casefold())
        kind = _INTERVENTION_TYPES.get(intervention.type or "")
        words = f"{name} ({kind})" if kind else name
        arms = labels.get(name, [])
        only_compared = bool(arms) and all(a in _COMPARATOR_ARMS for a in arms)
        (compared if only_compared else tested).append(words)
    return tested, compared


def _few(words: Sequence[str], more: str) -> str:
    if len(words) <= _LISTED_MAX:
        return listing(words)
    rest = len(words) - _LISTED_MAX + 1
    return listing([*words[: _LISTED_MAX - 1], f"{rest} {more}"])


def _what_it_tests(trial: Trial) -> str:
    conditions = _few(trial.conditions, "other conditions") if trial.conditions else ""
    with_ = f" in people with {conditions}" if conditions else ""
    if trial.study_type == "OBSERVATIONAL":
        return (
            f"This is an observational study{with_}: the study team watches and records what "
            "happens, and does not assign a treatment."
        )
    tested, compared = _treatments(trial)
    if trial.study_type == "EXPANDED_ACCESS":
        treatments = _few(tested, "other treatments") or "a treatment"
        return f"This record is about getting {treatments} outside a clinical trial."
    if not tested and not compared:
        if conditions:
            return f"The record does not name a treatment; it studies people with {conditions}."
        return "The record does not say what the study tests."
    if not tested:  # every arm is a comparator arm: nothing is "the new treatment"
        return f"This study compares {_few(compared, 'other treatments')}{with_}."
    against = f", compared with {_few(compared, 'other treatments')}," if compared else ""
    return f"This study tests {_few(tested, 'other treatments')}{against}{with_}."


def _phase_fact(trial: Trial, glossary: Glossary) -> str:
    names = [phase_words(p) for p in trial.phases]
    meanings = [glossary.phase(p) for p in trial.phases]
    plains = [m.plain for m in meanings if m is not None]
    if len(trial.phases) > 1:
        each = " ".join(f"{name}: {m.plain}" for name, m in zip(names, meanings, strict=True) if m)
        return f"{'/'.join(names)}: this study combines {len(names)} phases. {each}".strip()
    return f"{names[0]}. {' '.join(plains)}".strip()


def _status_fact(trial: Trial, glossary: Glossary) -> str:
    meaning = glossary.status(trial.overall_status)
    if meaning is None:
        return code_words(trial.overall_status)
    text = f"{meaning.display}. {meaning.plain}"
    if trial.overall_status == "UNKNOWN" and trial.last_known_status:
        last = glossary.status(trial.last_known_status)
        name = last.display if last else code_words(trial.last_known_status)
        text += f" The last status it gave was: {name}."
    if trial.why_stopped:
        text += f" The reason it gives: {quoted(trial.why_stopped)}."
    return text


def _ages(minimum: str | None, maximum: str | None) -> str:
    low, high = age_words(minimum), age_words(maximum)
    if low and high:
        unit_low, unit_high = low.split(" ", 1)[-1], high.split(" ", 1)[-1]
        if unit_low == unit_high:
            return f"aged {low.split(' ', 1)[0]} to {high}"
        return f"aged {low} to {high}"
    if low:
        return f"aged {low} or older"
    if high:
        return f"aged {high} or younger"
    return "at any age"


_WHO = {"ALL": "People of any sex", "FEMALE": "Females", "MALE": "Males"}


def _who_fact(trial: Trial) -> str:
    eligibility = trial.eligibility
    who = _WHO.get(eligibility.sex or "ALL", "People")
    text = f"{who} {_ages(eligibility.minimum_age, eligibility.maximum_age)}."
    if eligibility.healthy_volunteers is True:
        text += " Healthy volunteers can join."
    elif eligibility.healthy_volunteers is False:
        text += " Healthy volunteers cannot join."
    return text


def patient_facts(trial: Trial, glossary: Glossary) -> tuple[Fact, ...]:
    """What a patient asks first: what is tested, the phase and status explained, who can join."""
    facts = [Fact("What the study tests", _what_it_tests(trial))]
    if trial.phases:
        facts.append(Fact("Phase", _phase_fact(trial, glossary)))
    facts.append(Fact("Status", _status_fact(trial, glossary)))
    facts.append(Fact("Age and sex", _who_fact(trial)))
    return tuple(facts)


def coordinator_facts(trial: Trial) -> tuple[Fact, ...]:
    """The registry's own values, field by field; a field the record leaves out is left out."""
    enrollment = trial.enrollment
    eligibility = trial.eligibility
    healthy = eligibility.healthy_volunteers
    dates = (
        ("Start date", trial.start_date),
        ("Primary completion date", trial.primary_completion_date),
        ("Completion date", trial.completion_date),
    )
    rows = [
        ("Official title", field_words(trial.official_title)),
        ("Overall status", field_words(trial.overall_status)),
        ("Last known status", trial.last_known_status),
        ("Why stopped", trial.why_stopped),
        ("Study type", field_words(trial.study_type)),
        ("Phases", field_words(", ".join(trial.phases))),
        (
            "Enrollment",
            f"{enrollment.count} ({enrollment.type or 'type not given'})" if enrollment else None,
        ),
        *(
            (label, f"{date.date} ({date.type or 'type not given'})" if date else None)
            for label, date in dates
        ),
        ("Conditions", field_words("; ".join(trial.conditions))),
        (
            "Interventions",
            field_words("; ".join(f"{i.type or 'OTHER'}: {i.name}" for i in trial.interventions)),
        ),
        ("Lead sponsor", trial.lead_sponsor),
        ("Sex", field_words(eligibility.sex)),
        ("Minimum age", field_words(eligibility.minimum_age)),
        ("Maximum age", field_words(eligibility.maximum_age)),
        ("Healthy volunteers", None if healthy is None else ("Yes" if healthy else "No")),
        (
            "Central contacts",
            contacts_words([c.to_json() for c in trial.central_contacts]) or None,
        ),
    ]
    return tuple(Fact(label, text) for label, text in rows if text)
