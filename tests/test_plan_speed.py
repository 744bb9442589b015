"""The shortcuts that make planning a release fast find exactly what the slow, plain ways find.

Byte-for-byte equality of whole emails is `test_plan_once.py`'s job; these check the pieces on
every recorded criterion, where a difference would show up as a term explained or not.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from conftest import consecutive_versions

from watcher.core.criteria import parse_criteria
from watcher.core.record import parse_trial
from watcher.core.rewrite import _aliases, _word_before
from watcher.core.wording import trial_summary
from watcher.data import load_glossary

GLOSSARY = load_glossary()


def recorded_texts() -> set[str]:
    """Every criterion and title of every recorded version, and a few odd cases of case."""
    texts = {
        "\u017fide effects",
        "\u00b5g/L",
        "\u03bcg/L",
        "\u0130nformed consent",
        "ECOG-PS 1",
        "-ECOG",
        "AST or ALT",
        "\u03d0-hCG pregnancy test and \u0392HCG",  # beta symbol, capital beta
        "INVESTIGATOR\u2019S GLOBAL ASSESSMENT, e.g. HIV-1, i.e.",
    }
    for pair in consecutive_versions():
        for path in pair:
            trial = parse_trial(json.loads(path.read_text(encoding="utf-8")))
            texts.add(trial.brief_title or "")
            texts.update(item.text for item in parse_criteria(trial.eligibility.criteria))
    return texts


def test_glossary_aliases_are_found_where_one_pattern_over_all_of_them_finds_them() -> None:
    """At each word's start, the longest alias ending at a word's end, as a single pattern of
    every alias, longest first, tried at every place finds it."""
    phrases, abbreviations, finder = _aliases(GLOSSARY)
    alternatives = [(p, f"(?i:{re.escape(p)})") for p in phrases]
    alternatives += [(a, re.escape(a)) for a in abbreviations]
    alternatives.sort(key=lambda pair: len(pair[0]), reverse=True)
    body = "|".join(regex for _, regex in alternatives)
    one = re.compile(rf"(?<![\w-])(?=({body})(?![\w-]))")
    texts = recorded_texts()
    assert len(texts) > 1000
    found = 0
    for text in texts:
        expected = [(m.start(), m.start() + len(m.group(1))) for m in one.finditer(text)]
        assert list(finder.spans(text)) == expected, text
        found += len(expected)
    assert found > 1000  # the criteria do name terms: the comparison is not of empty lists


def test_the_word_before_a_term_is_what_the_pattern_read_from_the_start_finds() -> None:
    """`_word_before`, read backwards, gives what its pattern finds from the item's start, at
    each word's edge in every recorded criterion, and everywhere in some odd ones (digits, "_",
    superscripts, other scripts' digits, line ends)."""
    odd = ["grade 3\u00b2 (see", "x_y ", "ECOG 2\n", "a \u0661\u0662 ", "caf\u00e9, ", "  ", ""]
    places = [(text, range(len(text) + 1)) for text in odd]
    places += [
        (text, {m.start() for m in re.finditer(r"\b", text)} | {len(text)})
        for text in recorded_texts()
    ]
    for text, starts in places:
        for start in starts:
            found = re.search(r"([^\W\d_]+)[^\w]*$", text[:start])
            assert _word_before(text, start) == (found.group(1) if found else ""), (text, start)


def test_a_summary_without_criteria_says_what_a_change_email_shows_as_the_full_one_does() -> None:
    """Left without its criteria, a trial's summary keeps the title (plain words and all), key
    facts, facts, sites and closing of the full one, for both audiences and every recorded
    version; only the criteria, and the terms they explain, are left out."""
    seen = set()
    for pair in consecutive_versions():
        for path in pair:
            if path in seen:
                continue
            seen.add(path)
            trial = parse_trial(json.loads(path.read_text(encoding="utf-8")))
            for audience in ("patient", "coordinator"):
                full = trial_summary(trial, audience, GLOSSARY)
                short = trial_summary(trial, audience, GLOSSARY, criteria=False)
                assert (short.sections, short.items, short.terms) == ((), (), ())
                assert replace(short, sections=full.sections, items=full.items) == replace(
                    full, terms=()
                ), (path.name, audience)
    assert len(seen) > 50
