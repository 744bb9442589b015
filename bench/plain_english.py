"""How plain is what a patient reads, measured the fair way, on every recorded trial.

Run from the checkout (needs the `test` extra, for textstat's Dale-Chall list of easy words):

    python bench/plain_english.py            # the figures, with issue 13's targets
    python bench/plain_english.py --json     # the same figures as JSON
    python bench/plain_english.py --rank 400 # the hard words and phrases, by syllables they cost

The records: every recorded single-study file the tests use (`conftest.all_fixture_records()`:
`tests/fixtures/ctgov/` and `watcher/demo_data/`). A trial recorded at several dates is counted
once, at its newest version, so no trial weighs more for having been recorded more often; the
change sentences use every pair of consecutive versions.

What is measured (the fair measure is `watcher.core.readability`; its docstring has the rules):

- criteria items, what the patient reads (`item.plain`, whatever it holds: parentheses, the
  " (shown as written)" marker and all) beside the registry's own text (`item.original`), the
  baseline, measured in the same run: per record, the fair grade of all its items read together,
  the share of units over 20 words and the share of hard words (Dale-Chall, names excluded);
  shown with the median and 90th percentile (nearest rank) across records and the figure over
  all records pooled. Per item, the share shown as written, doubled words (the same word twice
  in a row in the patient's text more often than in the source) and fidelity violations in what
  is sent (`watcher.core.fidelity.check` again, and the independent `audit` below);
- key facts (`TrialSummary.key_facts`), the same measures per record;
- change sentences: every pair of consecutive recorded versions, told to a patient with
  `patient_changes`; the sentences the wording writes (lines without an item label: status,
  age and sex, sites, treatments…) are measured per change set; changed criteria items are
  criteria, measured above.

Targets (issue 13, "Done when") are printed beside each figure with PASS or FAIL; the bench
always exits 0: it reports, the tests gate.

`--dump [DIR ...]` writes what a rewrite must not change, byte for byte, and prints its sha256: for
every record file under `tests/fixtures/`, `watcher/demo_data/` and each DIR (e.g.
`../shared/fixtures/ctgov`), `rewrite_criteria` of its criteria and `trial_summary` for each
audience, with and without criteria and a place, as data (repr, grade level) and as both
templates render it. `--out FILE` keeps the dump itself, to diff when the hashes differ.

`--time [DIR ...]` prints CPU milliseconds per `trial_summary` on the same records: cold (the
newest version of each trial, nothing kept from before) and every version in date order.

`--rank [N]` lists what the lexicon should replace first: the hard words, and phrases of 2 to 4
words holding one, of the registry's criteria text (`--side plain`: of what patients read now),
ranked by their **cost: occurrences x the syllables above one per word** (the syllables a plain
replacement of one-syllable words would save), names and numbers excluded. A phrase that occurs
only inside one longer phrase is left out for the longer one. `covered` says whether a glossary
term already matches it (`=` the phrase itself, `>` it holds a shorter glossary phrase).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.resources
import json
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import consecutive_versions, version_chains  # noqa: E402  (needs the paths above)

from watcher.core.change import AUDIENCES  # noqa: E402
from watcher.core.criteria import _parsed  # noqa: E402  (emptied by --time, for a cold start)
from watcher.core.diff import diff_trials  # noqa: E402
from watcher.core.fidelity import Swap, check  # noqa: E402
from watcher.core.glossary import Glossary  # noqa: E402
from watcher.core.places import Near  # noqa: E402
from watcher.core.readability import (  # noqa: E402
    Names,
    Reading,
    Word,
    doubled_words,
    fair_grade,
    is_hard,
    names_from,
    reading_of,
    units_of,
    words_of,
)
from watcher.core.record import Trial, parse_trial  # noqa: E402
from watcher.core.rewrite import PlainItem, _rewrite_fresh, rewrite_criteria  # noqa: E402
from watcher.core.wording import TrialSummary, patient_changes, trial_summary  # noqa: E402
from watcher.core.wording.key_facts import _criteria_facts  # noqa: E402
from watcher.data import load_glossary  # noqa: E402
from watcher.delivery.templates import FORMATS, render_trial_summary  # noqa: E402

MAX_GRADE_CRITERIA = 8.0
MAX_GRADE_SHORT = 6.0  # key facts and change sentences
MAX_LONG_UNITS = 0.10
MAX_HARD_WORDS = 0.20
MAX_SHOWN_AS_WRITTEN = 0.15
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z0-9])[\w-]+")
# Words a phrase of the ranking does not start or end with ("the therapy" is "therapy", "therapy
# within" is "therapy"), except that a two-word phrase may end with "to" ("prior to", "due to"):
# the lexicon replaces those as one.
_EDGE_WORDS = frozenset(
    (
        *("a", "an", "the", "and", "or", "of", "in", "on", "at", "by", "for", "with", "as"),
        *("any", "all", "is", "are", "be", "been", "was", "were", "who", "that", "which"),
        *("has", "have", "had", "must", "should", "will", "may", "can", "not", "no", "to"),
        *("within", "from", "than", "per", "after", "before", "during", "if", "this", "their"),
    )
)
_LINKS = frozenset(("to",))
_PUNCTUATION = re.compile(r"[,()\[\]/\"“”;:!?]|\.(?!\w)")


def easy_words() -> frozenset[str]:
    """The Dale-Chall list of easy words as textstat ships it (`textstat.is_easy_word` reads
    the same file), lower-cased."""
    resource = importlib.resources.files("textstat").joinpath("resources/en/easy_words.txt")
    return frozenset(line.strip().lower() for line in resource.read_text("utf-8").splitlines())


def _strings(value: Any) -> list[str]:
    """The strings of a JSON list (or a lone string), whatever else a record puts there."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def record_names(*raws: dict[str, Any]) -> Names:
    """The trial's own names, in one or more versions of its record: intervention names and
    other names, conditions, keywords, the MeSH terms of its conditions and interventions (the
    issue's list), and the proper names of its sponsors and sites (facility, city, state,
    country), which no plain word replaces."""
    return names_from(phrase for raw in raws for phrase in _phrases(raw))


def _phrases(raw: dict[str, Any]) -> list[str]:
    protocol = raw.get("protocolSection", {})
    derived = raw.get("derivedSection", {})
    sponsors = protocol.get("sponsorCollaboratorsModule", {})
    phrases = _strings(sponsors.get("leadSponsor", {}).get("name"))
    phrases += [c.get("name", "") for c in sponsors.get("collaborators", [])]
    for site in protocol.get("contactsLocationsModule", {}).get("locations", []):
        phrases += _strings([site.get(key) for key in ("facility", "city", "state", "country")])
    for intervention in protocol.get("armsInterventionsModule", {}).get("interventions", []):
        phrases += _strings(intervention.get("name")) + _strings(intervention.get("otherNames"))
    conditions = protocol.get("conditionsModule", {})
    phrases += _strings(conditions.get("conditions")) + _strings(conditions.get("keywords"))
    for browse in ("conditionBrowseModule", "interventionBrowseModule"):
        phrases += [m.get("term", "") for m in derived.get(browse, {}).get("meshes", [])]
    return phrases


def audit(item: PlainItem, explained: str) -> bool:
    """An independent look at a sent item: the same numbers, every token with a digit still in
    the running text, every other capitalised name in it or in a term the summary explains
    (`explained`: a term is explained once, beside the first item that uses it), or swapped for
    plain words in this item (the term is then listed under its first spelling)."""
    if Counter(_NUMBER.findall(item.original)) != Counter(_NUMBER.findall(item.plain)):
        return False
    explained += " " + " ".join(p.original for p in item.pieces if isinstance(p, Swap))
    return all(
        name in item.plain or (not any(c.isdigit() for c in name) and name in explained)
        for name in _NAME.findall(item.original)
    )


def doubled(item: PlainItem) -> list[str]:
    """Words doubled in the patient's text that the source does not double."""
    return list(
        (Counter(doubled_words(item.plain)) - Counter(doubled_words(item.original))).elements()
    )


def key_facts_of(summary: TrialSummary) -> list[str]:
    """The key-facts sentences of a patient summary."""
    return [fact.text for fact in summary.key_facts]


def change_sentences_of(old: dict[str, Any], new: dict[str, Any], glossary: Glossary) -> list[str]:
    """The sentences a patient is told about one change set, changed criteria items left out."""
    summary = patient_changes(diff_trials(parse_trial(old), parse_trial(new)), glossary=glossary)
    return [line.text for block in summary.blocks for line in block.lines if line.label is None]


# -- figures -------------------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


@dataclass
class Side:
    """One side (the patient's text or the source) of a part, per record."""

    readings: list[Reading] = field(default_factory=list)

    def add(self, texts: Iterable[str], names: Names) -> None:
        reading = reading_of(texts, names)
        if reading.words:
            self.readings.append(reading)

    def figures(self, easy: frozenset[str]) -> dict[str, dict[str, float]]:
        """Median, p90 and pooled figure of each measure across records."""
        pooled = Reading(tuple(unit for r in self.readings for unit in r.units))
        measures: dict[str, Callable[[Reading], float]] = {
            "grade": lambda r: r.grade,
            "long_units": lambda r: r.long_units() / len(r.units),
            "hard_words": lambda r: len(r.hard_words(easy)) / r.words,
        }
        out = {}
        for name, measure in measures.items():
            values = [measure(r) for r in self.readings]
            out[name] = {
                "median": statistics.median(values) if values else math.nan,
                "p90": p90(values) if values else math.nan,
                "all": measure(pooled) if pooled.units else math.nan,
            }
        return out


@dataclass
class Corpus:
    """Everything measured, by part."""

    records: int = 0
    items: list[PlainItem] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)  # per item: the terms its summary lists
    item_grades: list[tuple[float, float]] = field(default_factory=list)  # (patient, source)
    criteria: Side = field(default_factory=Side)
    source: Side = field(default_factory=Side)
    key_facts: Side = field(default_factory=Side)
    changes: Side = field(default_factory=Side)
    change_sets: int = 0


def newest_versions() -> list[dict[str, Any]]:
    """Each recorded trial once, at its newest recorded version."""
    return [
        json.loads(paths[-1].read_text(encoding="utf-8")) for paths in version_chains().values()
    ]


def measure(glossary: Glossary) -> Corpus:
    corpus = Corpus()
    for raw in newest_versions():
        names = record_names(raw)
        summary = trial_summary(parse_trial(raw), "patient", glossary)
        facts = key_facts_of(summary)
        if facts:
            corpus.key_facts.add(facts, names)
        if not summary.items:
            continue
        corpus.records += 1
        corpus.items += summary.items
        corpus.explained += [" ".join(hit.term for hit in summary.terms)] * len(summary.items)
        corpus.criteria.add((item.plain for item in summary.items), names)
        corpus.source.add((item.original for item in summary.items), names)
        corpus.item_grades += [
            (fair_grade(item.plain, names), fair_grade(item.original, names))
            for item in summary.items
        ]
    for old_path, new_path in consecutive_versions():
        old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (old_path, new_path))
        sentences = change_sentences_of(old, new, glossary)
        if sentences:
            corpus.change_sets += 1
            corpus.changes.add(sentences, record_names(old, new))
    return corpus


def report(corpus: Corpus, glossary: Glossary, easy: frozenset[str]) -> dict[str, Any]:
    items = corpus.items
    sent = [
        (item, explained)
        for item, explained in zip(items, corpus.explained, strict=True)
        if not item.shown_as_written
    ]
    violations = [
        item
        for item, explained in sent
        if check(item.original, item.pieces, glossary) or not audit(item, explained)
    ]
    doubles = Counter(word for item in items for word in doubled(item))
    patient_grades = [g for g, _ in corpus.item_grades]
    source_grades = [g for _, g in corpus.item_grades]
    return {
        "criteria": {
            "records": corpus.records,
            "items": len(items),
            "units": sum(len(r.units) for r in corpus.criteria.readings),
            "patient": corpus.criteria.figures(easy),
            "source": corpus.source.figures(easy),
            "item_grade": {
                "patient": {
                    "median": statistics.median(patient_grades),
                    "p90": p90(patient_grades),
                },
                "source": {"median": statistics.median(source_grades), "p90": p90(source_grades)},
            },
            "shown_as_written": (len(items) - len(sent)) / len(items),
            "doubled_words": sum(doubles.values()),
            "doubled_examples": dict(doubles.most_common(10)),
            "fidelity_violations": len(violations),
            "violation_examples": [item.plain for item in violations[:5]],
        },
        "key_facts": (
            {"records": len(corpus.key_facts.readings), "patient": corpus.key_facts.figures(easy)}
            if corpus.key_facts.readings
            else None
        ),
        "change_sentences": {
            "change_sets": corpus.change_sets,
            "patient": corpus.changes.figures(easy),
        },
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _figure_rows(
    figures: dict[str, dict[str, float]],
    source: dict[str, dict[str, float]] | None,
    max_grade: float,
    targets: bool,
    unit: str = "record",
) -> list[tuple[str, str, str, str, str]]:
    def trio(f: dict[str, float], percent: bool) -> str:
        fmt = "{:>6.1%}" if percent else "{:>6.1f}"
        return " ".join(fmt.format(f[k]) for k in ("median", "p90", "all"))

    rows = []
    for key, label, percent, target, ok in (
        ("grade", f"fair grade of a {unit}", False, f"<= {max_grade:g}", "median"),
        ("long_units", "units over 20 words", True, "<= 10 %", "all"),
        ("hard_words", "hard words (Dale-Chall, names out)", True, "<= 20 %", "all"),
    ):
        value = figures[key]
        limit = {"grade": max_grade, "long_units": MAX_LONG_UNITS, "hard_words": MAX_HARD_WORDS}
        shown_target = target if (targets or key == "grade") else ""
        result = verdict(value[ok] <= limit[key]) if shown_target else ""
        rows.append(
            (
                label,
                trio(value, percent),
                trio(source[key], percent) if source else "",
                shown_target + (f" ({ok})" if shown_target else ""),
                result,
            )
        )
    return rows


def print_report(figures: dict[str, Any]) -> None:
    head = f"{'measure':<36} {'patient: median p90 all':>23}  {'source: median p90 all':>22}"
    line = "{:<36} {:>23}  {:>22}  {:<16} {}"
    crit = figures["criteria"]
    print(
        f"Criteria items: {crit['records']} records (newest version of each trial), "
        f"{crit['items']} items, {crit['units']} units the patient reads"
    )
    print(head + "  target           result")
    for row in _figure_rows(crit["patient"], crit["source"], MAX_GRADE_CRITERIA, targets=True):
        print(line.format(*row))
    grades = crit["item_grade"]
    print(
        line.format(
            "fair grade of an item",
            f"{grades['patient']['median']:>6.1f} {grades['patient']['p90']:>6.1f}       ",
            f"{grades['source']['median']:>6.1f} {grades['source']['p90']:>6.1f}       ",
            "",
            "",
        )
    )
    for label, value, target, ok in (
        (
            "items shown as written",
            f"{crit['shown_as_written']:.1%}",
            "<= 15 %",
            crit["shown_as_written"] <= MAX_SHOWN_AS_WRITTEN,
        ),
        ("doubled words", str(crit["doubled_words"]), "0", crit["doubled_words"] == 0),
        (
            "fidelity violations in what is sent",
            str(crit["fidelity_violations"]),
            "0",
            crit["fidelity_violations"] == 0,
        ),
    ):
        print(line.format(label, value, "", target, verdict(ok)))
    if crit["doubled_examples"]:
        print("  doubled: " + ", ".join(f"{w} x{n}" for w, n in crit["doubled_examples"].items()))
    for example in crit["violation_examples"]:
        print(f"  violation: {example[:110]}")

    print()
    facts = figures["key_facts"]
    if facts is None:
        print("Key facts: none in any record")
    else:
        print(f"Key facts: {facts['records']} records")
        print(head + "  target           result")
        for row in _figure_rows(facts["patient"], None, MAX_GRADE_SHORT, targets=False):
            print(line.format(*row))

    print()
    changes = figures["change_sentences"]
    print(
        f"Change sentences: {changes['change_sets']} change sets told to a patient "
        "(consecutive recorded versions; changed criteria items left to the criteria figures)"
    )
    print(head + "  target           result")
    for row in _figure_rows(
        changes["patient"], None, MAX_GRADE_SHORT, targets=False, unit="change set"
    ):
        print(line.format(*row))
    print()
    print(
        "median/p90: across records (change sets); all: every record pooled. Targets: issue 13, "
        "'Done when'."
    )


# -- the ranking for the lexicon -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranked:
    phrase: str
    count: int
    syllables: int
    cost: int
    covered: str


def _glossary_phrases(glossary: Glossary) -> dict[tuple[str, ...], str]:
    phrases: dict[tuple[str, ...], str] = {}
    for term in glossary.terms:
        for written in (*term.phrases, *term.abbreviations):
            key = tuple(w.text.lower() for w in words_of(written))
            phrases.setdefault(key, term.id)
    return phrases


def _covered(words: tuple[str, ...], phrases: dict[tuple[str, ...], str]) -> str:
    """ "= term" when a glossary phrase is these words (or their singular), "> term" when it is
    some of them, "" when no glossary phrase covers any."""
    singular = tuple(re.sub(r"(?<=[^s])s$", "", w) for w in words)
    for key in (words, singular):
        if key in phrases:
            return f"= {phrases[key]}"
    n = len(words)
    for key, term in phrases.items():
        if len(key) < n and any(words[i : i + len(key)] == key for i in range(n - len(key) + 1)):
            return f"> {term}"
    return ""


def rank(glossary: Glossary, easy: frozenset[str], side: str, top: int) -> list[Ranked]:
    """The hard words and phrases of every record's criteria, by syllables they cost."""
    counts: Counter[tuple[str, ...]] = Counter()
    spelled: dict[tuple[str, ...], Counter[str]] = {}
    syllables: dict[tuple[str, ...], int] = {}
    for raw in newest_versions():
        names = record_names(raw)
        summary = trial_summary(parse_trial(raw), "patient", glossary)
        for item in summary.items:
            text = item.original if side == "source" else item.plain
            # A phrase never crosses punctuation: "People (Participants)" is two.
            for run in (r for u in units_of(text) for r in _PUNCTUATION.split(u)):
                words = words_of(run, names)
                for start in range(len(words)):
                    for n in range(1, 5):
                        window: tuple[Word, ...] = words[start : start + n]
                        if len(window) < n or any(w.name for w in window):
                            break
                        if not any(is_hard(w, easy) for w in window):
                            continue
                        first, last = window[0].text.lower(), window[-1].text.lower()
                        if n > 1 and (
                            first in _EDGE_WORDS
                            or (last in _EDGE_WORDS and not (n == 2 and last in _LINKS))
                        ):
                            continue
                        key = tuple(w.text.lower() for w in window)
                        counts[key] += 1
                        spelled.setdefault(key, Counter())[" ".join(w.text for w in window)] += 1
                        syllables[key] = sum(w.syllables for w in window)
    # A phrase always inside one longer phrase is shown as the longer one.
    inside = {
        shorter
        for key, count in counts.items()
        for shorter in (key[1:], key[:-1])
        if len(key) > 1 and counts.get(shorter) == count
    }
    phrases = _glossary_phrases(glossary)
    ranked = [
        Ranked(
            phrase=spelled[key].most_common(1)[0][0],
            count=count,
            syllables=syllables[key],
            cost=count * (syllables[key] - len(key)),
            covered=_covered(key, phrases),
        )
        for key, count in counts.items()
        if key not in inside and count > 1
    ]
    ranked.sort(key=lambda r: (-r.cost, -r.count, r.phrase.lower()))
    return ranked[:top]


def print_rank(ranked: list[Ranked], side: str) -> None:
    print(
        f"Hard words and phrases of the {side} criteria text, by cost = occurrences x "
        "(syllables - words)"
    )
    print(f"{'cost':>6} {'count':>6} {'syl':>4}  {'covered':<28} phrase")
    for r in ranked:
        print(f"{r.cost:>6} {r.count:>6} {r.syllables:>4}  {r.covered:<28} {r.phrase}")


GOLDEN = ROOT / "tests" / "golden"
SAMPLE_SEED = 13  # the number: the same sample on every run, until the corpus changes


def reading_sample(
    glossary: Glossary, size: int, seed: int = SAMPLE_SEED
) -> list[tuple[str, PlainItem]]:
    """`size` rewritten items (the plain text differs from the source), drawn with a fixed seed
    from the records outside the golden set, for a person to read against their source."""
    golden = {path.name.split(".")[0] for path in GOLDEN.iterdir()}
    pool = [
        (nct_id, item)
        for raw in newest_versions()
        if (nct_id := raw["protocolSection"]["identificationModule"]["nctId"]) not in golden
        for item in trial_summary(parse_trial(raw), "patient", glossary).items
        if not item.shown_as_written and " ".join(item.units) != item.original
    ]
    return random.Random(seed).sample(pool, min(size, len(pool)))


def print_sample(sample: list[tuple[str, PlainItem]]) -> None:
    """The sample as Markdown: each item's source, then what the patient reads, line by line."""
    for number, (nct_id, item) in enumerate(sample, 1):
        print(f"{number}. **{nct_id}** ({item.section})")
        print(f"   - source: {item.original}")
        print(f"   - patient: {' / '.join(item.units)}")


# A place with a point (Boston, MA), so the dump covers site ordering and distances too.
DUMP_NEAR = Near("Boston, Massachusetts, United States", (42.3601, -71.0589))


def record_files(folders: Sequence[Path]) -> list[Path]:
    """Every record file under the tests' fixtures, the demo data and `folders`, by name."""
    return sorted(
        {
            p
            for folder in (ROOT / "tests" / "fixtures", ROOT / "watcher" / "demo_data", *folders)
            for p in folder.rglob("NCT*.json")
        }
    )


def dump(glossary: Glossary, folders: Sequence[Path]) -> Iterable[str]:
    """What `--dump` hashes, record by record: every output of the rewrite a reader can see."""
    for path in record_files(folders):
        trial = parse_trial(json.loads(path.read_text(encoding="utf-8")))
        yield f"# {path.name}\n{rewrite_criteria(trial.eligibility.criteria, glossary)!r}\n"
        for audience in ("patient", "coordinator"):
            for criteria in (True, False):
                for near in (None, DUMP_NEAR):
                    summary = trial_summary(trial, audience, glossary, near, criteria=criteria)
                    yield f"## {audience} criteria={criteria} near={near}\n{summary!r}\n"
                    yield f"grade {summary.grade_level}\n"
                    for fmt in FORMATS:
                        yield render_trial_summary(summary, fmt)


def forget() -> None:
    """Empty what the rewrite keeps between calls, as a process that has read nothing yet."""
    for kept in (_rewrite_fresh, _parsed, _criteria_facts):
        kept.cache_clear()


def timings(glossary: Glossary, folders: Sequence[Path], rounds: int = 5) -> dict[str, float]:
    """CPU milliseconds per `trial_summary` (the best of `rounds`), with criteria: "cold", the
    newest version of each trial with nothing kept from the one before; "in order", every
    version of every trial in date order, as a daemon meets them (new versions mostly repeat
    their criteria); and, without criteria, what a change email shows."""
    chains: dict[str, list[Trial]] = {}
    for path in record_files(folders):
        trial = parse_trial(json.loads(path.read_text(encoding="utf-8")))
        chains.setdefault(path.name.split("__")[0], []).append(trial)
    newest = [versions[-1] for versions in chains.values()]
    every = [trial for versions in chains.values() for trial in versions]

    def per_trial(
        trials: list[Trial], audience: str, *, cold: bool, criteria: bool = True
    ) -> float:
        best = math.inf
        for _ in range(rounds):
            forget()
            spent = 0.0
            for trial in trials:
                if cold:
                    forget()
                started = time.process_time()
                trial_summary(trial, audience, glossary, criteria=criteria)
                spent += time.process_time() - started
            best = min(best, 1000 * spent / len(trials))
        return round(best, 3)

    return {
        "records": len(every),
        "trials": len(newest),
        **{
            f"{audience} ms, {name}": per_trial(trials, audience, cold=cold)
            for audience in AUDIENCES
            for name, trials, cold in (("cold", newest, True), ("in order", every, False))
        },
        "patient ms, no criteria, in order": per_trial(
            every, "patient", cold=False, criteria=False
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--rank", nargs="?", type=int, const=400, metavar="N", help="rank the N costliest"
    )
    parser.add_argument(
        "--side",
        choices=("source", "plain"),
        default="source",
        help="rank the registry's text (default) or what patients read now",
    )
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="print N rewritten items from records outside the golden set, to read by hand",
    )
    parser.add_argument(
        "--seed", type=int, default=SAMPLE_SEED, help="draw another sample (with --sample)"
    )
    parser.add_argument(
        "--dump",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="hash every rewrite output for the fixtures (and the record files under DIR)",
    )
    parser.add_argument("--out", type=Path, help="write the dump here too (with --dump)")
    parser.add_argument(
        "--time",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="ms per trial summary on the fixtures (and the record files under DIR)",
    )
    args = parser.parse_args(argv)
    glossary = load_glossary()
    if args.time is not None:
        print(json.dumps(timings(glossary, args.time), indent=1))
        return 0
    if args.dump is not None:
        text = "".join(dump(glossary, args.dump))
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        print(hashlib.sha256(text.encode("utf-8")).hexdigest())
        return 0
    if args.sample is not None:
        print_sample(reading_sample(glossary, args.sample, args.seed))
        return 0
    easy = easy_words()
    if args.rank is not None:
        ranked = rank(glossary, easy, args.side, args.rank)
        if args.json:
            print(json.dumps([dataclasses.asdict(r) for r in ranked], indent=1))
        else:
            print_rank(ranked, args.side)
        return 0
    figures = report(measure(glossary), glossary, easy)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print_report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
