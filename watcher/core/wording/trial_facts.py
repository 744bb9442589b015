"""The labelled paragraphs at the top of a trial summary ("Phase", "Status", …) (pure).

A patient gets what a trial tests (one line per medicine, a placebo named as a dummy
treatment, medicines given beside the tested one said apart), its phase and status with what
they mean, in everyday words from the glossary; who can join is in the key facts above them
(`key_facts`). A coordinator gets the registry's own values, field by field, nothing rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.core.glossary import Glossary
from watcher.core.record import Intervention, Trial
from watcher.core.wording.words import (
    code_words,
    contacts_words,
    field_words,
    listing,
    phase_words,
    quoted,
)


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled paragraph ("Phase", "Status", …), with the list it introduces, if any."""

    label: str
    text: str
    lines: tuple[str, ...] = ()


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
# A name of these types may list several medicines: "Dacarbazine, temozolomide, paclitaxel".
_MEDICINE_TYPES = frozenset({"DRUG", "BIOLOGICAL"})
_COMPARATOR_ARMS = frozenset({"ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR"})
_LISTED_MAX = 4
PLACEBO = "a dummy treatment with no medicine in it (placebo)"
_PLACEBO = re.compile(r"\bplacebo\b", re.IGNORECASE)
_NO_INTERVENTION = re.compile(r"no intervention|none", re.IGNORECASE)
# Medicines given around the tested treatment, not tested themselves: named so
# ("Rescue Medications"), or described so ("will be given as premedication for …").
_ANCILLARY_NAME = re.compile(
    r"\b(?:rescue|background|supportive|pre-?medications?|concomitant)\b", re.IGNORECASE
)
_ANCILLARY_USE = re.compile(
    r"\b(?:given|administered|used|received) as (?:an? )?"
    r"(?:pre-?medication|rescue|background|supportive|concomitant|standard of care|SoC)\b",
    re.IGNORECASE,
)
# "A, B, C" / "A + B" / "A and B" / "A plus B" / "A in combination with B", outside
# parentheses: one name per medicine.
_NAME_SEPARATOR = re.compile(
    r"(?:,\s+|\s*\+\s*|\s+(?:and|plus|in combination with)\s+)(?![^()]*\))"
)


def _is_placebo(intervention: Intervention, arms: Sequence[str]) -> bool:
    """Named a placebo, or given only in a placebo arm and described as one ("Vehicle")."""
    if _PLACEBO.search(intervention.name or ""):
        return True
    described = _PLACEBO.search(intervention.description or "")
    return bool(described and arms and all(a == "PLACEBO_COMPARATOR" for a in arms))


def _is_ancillary(intervention: Intervention) -> bool:
    return bool(
        _ANCILLARY_NAME.search(intervention.name or "")
        or _ANCILLARY_USE.search(intervention.description or "")
    )


def _medicines(intervention: Intervention) -> list[str]:
    """The names an intervention lists: several for "Dacarbazine, temozolomide, paclitaxel"."""
    name = (intervention.name or "").strip() or "An unnamed treatment"
    names = [part.strip() for part in _NAME_SEPARATOR.split(name)]
    several = intervention.type in _MEDICINE_TYPES and all(names)
    if not several or name.count("(") != name.count(")"):
        names = [name]
    return [n[0].upper() + n[1:] if n.islower() else n for n in names]  # a line starts a sentence


def _placebo_line(name: str) -> str:
    if name.casefold() == "placebo":
        return PLACEBO[0].upper() + PLACEBO[1:]
    return f"{name}: {PLACEBO}"


def _treatments(trial: Trial) -> tuple[list[str], list[str], list[str]]:
    """(what is tested, what it is compared with, what is also given), one line per medicine.

    A placebo is always a comparison, named as a dummy treatment; a medicine named or
    described as rescue, background, supportive or pre-medication is given beside the study
    treatment, not tested; a medicine given only in comparator arms is what the study
    compares with. Types are the registry's ("Temozolomide (a drug)").
    """
    arm_types: dict[str, list[str]] = {}
    for arm in trial.arm_groups:
        for name in arm.intervention_names:
            arm_types.setdefault(name.split(": ", 1)[-1], []).append(arm.type or "")
    tested: list[str] = []
    compared: list[str] = []
    also: list[str] = []
    named: set[str] = set()
    for intervention in trial.interventions:
        arms = arm_types.get(intervention.name or "", [])
        if _NO_INTERVENTION.fullmatch((intervention.name or "").strip()):
            continue
        if _is_placebo(intervention, arms):
            group, lines = compared, [_placebo_line(intervention.name or "placebo")]
        else:
            only_compared = bool(arms) and all(a in _COMPARATOR_ARMS for a in arms)
            group = compared if only_compared else also if _is_ancillary(intervention) else tested
            # A medicine given beside the tested one is named only: "Rescue Medications (a
            # drug)" would count several medicines as one, and its type tells a reader nothing.
            kind = None if group is also else _INTERVENTION_TYPES.get(intervention.type or "")
            lines = [f"{name} ({kind})" if kind else name for name in _medicines(intervention)]
        for line in lines:
            if line.casefold() not in named:  # "Omalizumab" in one arm, "omalizumab" in another
                named.add(line.casefold())
                group.append(line)
    return tested, compared, also


def _few(words: Sequence[str], more: str) -> str:
    if len(words) <= _LISTED_MAX:
        return listing(words)
    rest = len(words) - _LISTED_MAX + 1
    return listing([*words[: _LISTED_MAX - 1], f"{rest} {more}"])


def _what_it_tests(trial: Trial) -> list[Fact]:
    label = "What the study tests"
    conditions = _few(trial.conditions, "other conditions") if trial.conditions else ""
    with_ = f" in people with {conditions}" if conditions else ""
    if trial.study_type == "OBSERVATIONAL":
        return [
            Fact(
                label,
                f"This is an observational study{with_}: the study team watches and records "
                "what happens, and does not assign a treatment.",
            )
        ]
    tested, compared, also = _treatments(trial)
    if trial.study_type == "EXPANDED_ACCESS":
        return [
            Fact(
                label,
                "This record is about getting these outside a clinical trial:",
                tuple(tested + compared),
            )
        ]
    facts = []
    if tested:  # with only comparator arms, nothing is "the new treatment"
        facts.append(Fact(label, f"This study tests these treatments{with_}:", tuple(tested)))
        if compared:
            facts.append(Fact("Compared with", "", tuple(compared)))
    elif compared:
        facts.append(Fact(label, f"This study compares these treatments{with_}:", tuple(compared)))
    elif conditions:
        text = f"The record does not name a treatment; it studies people with {conditions}."
        facts.append(Fact(label, text))
    else:
        facts.append(Fact(label, "The record does not say what the study tests."))
    if also:
        text = "The study gives these too, but does not test them:"
        facts.append(Fact("Also given", text, tuple(also)))
    return facts


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


def patient_facts(trial: Trial, glossary: Glossary) -> tuple[Fact, ...]:
    """What a patient asks next: what is tested, the phase and status explained.

    Age, sex and healthy volunteers are key facts (`key_facts`), said once at the top.
    """
    facts = _what_it_tests(trial)
    if trial.phases:
        facts.append(Fact("Phase", _phase_fact(trial, glossary)))
    facts.append(Fact("Status", _status_fact(trial, glossary)))
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
