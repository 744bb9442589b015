"""Build the packaged glossary `watcher/data/glossary.json` from the lexicon and the shared folder.

Run from the checkout: `python tools/build_glossary.py --shared ../shared/glossary` (add
`--check` to only verify that the committed files are what the build makes). A clone without
`../shared` still works: the built JSON is committed and is all the package reads.

Inputs:

- `tools/glossary/lexicon.json` (in this repository, project-owned): every phrase the rewriter
  swaps or defines. It began as the shared `eligibility_glossary_draft.json` (60 entries, with
  their sources and quotes) plus the project's everyday words, and is now edited here. Each
  entry has `id`; `match` (phrases, any case, whole words); `abbr` (exact case); `render`
  (`replace`: the plain words stand in the text and the term and its meaning go to "What these
  words mean"; `everyday`: the plain words stand in the text, nothing is listed; `define`: the
  text keeps the term, the meaning is listed); `plain`, and `plain_plural` for the matches that
  end in a plural "s"; `adds` (negation cues the plain words say that the matched words do not
  spell, e.g. "not" for "non-infectious": the fidelity checker allows exactly these); `explain`;
  `source` (the authority the plain words or the meaning come from, or "project-drafted");
  `licence`; `reviewed` (true only once a clinician has read the entry; none has yet); and, not
  packaged, `rank_cost` (syllables beyond one a word that the entry's matches cost across the
  recorded trials when it was chosen), `notes` and `quote`.
- From the shared folder (its README gives each file's licence): the FDA OCE patient-friendly
  terms (public domain) the lexicon does not cover, as define-only terms; the scales (ECOG,
  CTCAE, Karnofsky); the NegEx cue lists from negspacy (MIT, so its licence is written beside the
  data as `LICENSE-negspacy.txt`); the comparator phrases; overall statuses and phases.

The build refuses an entry that would read wrong wherever its phrase stands: plain words with a
digit or a comparator phrase (the checker counts both), a hyphen or a parenthesis (the reader
reads plain words only), a negation cue not declared in `adds`, an alias two entries claim, or a
`plain_plural` no match can use. The ctparser CSVs (Apache-2.0) are not used, so neither they nor
their NOTICE are shipped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "watcher" / "data"
GLOSSARY_FILE = DATA / "glossary.json"
NEGSPACY_LICENCE_FILE = DATA / "LICENSE-negspacy.txt"
LEXICON_FILE = ROOT / "tools" / "glossary" / "lexicon.json"

# Phrases the rewriter writes for scale values and grades ("grade 1 or lower", "higher than 2")
# that comparators.json's reverse map does not list; project-drafted, same meaning as a symbol.
EXTRA_REVERSE = {"higher than": ">", "lower than": "<", "greater than": ">", "or greater": ">="}
COMPARATOR_OPS = {">", ">=", "<", "<="}
# FDA OCE terms left out: in criteria "subject" is mostly the verb or "subject to", where the
# FDA meaning ("a person participating in a clinical trial") would be wrong.
FDA_SKIPPED = {"Subject"}

# The keys of a lexicon entry that the package carries (the rest is for the people editing it).
PACKAGED = (
    "id",
    "match",
    "abbr",
    "render",
    "plain",
    "plain_plural",
    "adds",
    "explain",
    "source",
    "licence",
    "reviewed",
)
RENDERS = {"replace", "everyday", "define"}
FDA_SOURCE = (
    "FDA Oncology Center of Excellence, Patient-Friendly Language for Cancer Clinical Trials "
    "(https://www.fda.gov/about-fda/oncology-center-excellence/patient-friendly-language-cancer-"
    "clinical-trials)"
)

Json = dict[str, Any]


def _read(shared: Path, name: str) -> Any:
    return json.loads((shared / name).read_text(encoding="utf-8"))


def _lexicon(path: Path) -> list[Json]:
    entries: list[Json] = json.loads(path.read_text(encoding="utf-8"))["entries"]
    return [{key: entry[key] for key in PACKAGED if key in entry} for entry in entries]


def _fda_names(term: str) -> tuple[list[str], list[str]]:
    """'Overall survival (OS)' → (['Overall survival'], ['OS']); 'A or B' → both as phrases."""
    abbr = re.findall(r"\(([^()]+)\)", term)
    name = re.sub(r"\s*\([^()]*\)", "", term).strip()
    phrases = [part.strip() for part in name.split(" or ")] if " or " in name else [name]
    return phrases, abbr


def _terms(shared: Path, lexicon: Path) -> list[Json]:
    """The lexicon, then the FDA OCE terms it does not cover, as define-only terms."""
    terms = _lexicon(lexicon)
    known = {alias.casefold() for t in terms for alias in t["match"] + t["abbr"]}
    for entry in _read(shared, "fda_oce_patient_friendly_glossary.json")["terms"]:
        phrases, abbr = _fda_names(entry["term"])
        if entry["term"] in FDA_SKIPPED or any(
            alias.casefold() in known for alias in phrases + abbr
        ):
            continue
        slug = re.sub(r"[^a-z0-9]+", "_", phrases[0].casefold()).strip("_")
        terms.append(
            {
                "id": f"fda_{slug}",
                "match": phrases,
                "abbr": abbr,
                "render": "define",
                "plain": "",
                "explain": entry["definition"],
                "source": FDA_SOURCE,
                "licence": "public domain (US Government work; credit FDA OCE)",
                "reviewed": False,
            }
        )
    return terms


def _statuses(shared: Path) -> Json:
    return {
        status["api_value"]: {
            "display": status["display"],
            "plain": status["plain_patient"],
            "open": status["open_to_new_patients"],
        }
        for status in _read(shared, "ctgov_overall_status.json")["statuses"]
    }


def _phases(shared: Path) -> Json:
    return {
        phase["api_value"]: {"display": phase["display"], "plain": phase["plain"]}
        for phase in _read(shared, "trial_phases.json")["phases"]
    }


def _scales(shared: Path) -> Json:
    ecog = _read(shared, "ecog_performance_status.json")
    ctcae = _read(shared, "ctcae_v5_grades.json")
    karnofsky = _read(shared, "karnofsky_performance_status_plain.json")
    return {
        "ecog": {str(level["grade"]): level["plain"] for level in ecog["levels"]},
        "ctcae_grade": {str(grade["grade"]): grade["plain"] for grade in ctcae["grades"]},
        "karnofsky": {str(level["score"]): level["plain"] for level in karnofsky["levels_plain"]},
    }


# Project-added pseudo-negations: "not" that negates nothing in a criterion, so plain words
# ("such as" for "including but not limited to") may leave it out.
EXTRA_PSEUDO = ("not limited to",)


def _negation(shared: Path) -> tuple[Json, str]:
    source = _read(shared, "negation_triggers_en_negspacy.json")
    sets = (source["en"], source["en_clinical_additions"])
    cues = sorted({c for s in sets for c in s["preceding_negations"] + s["following_negations"]})
    pseudo = sorted({c for s in sets for c in s["pseudo_negations"]} | set(EXTRA_PSEUDO))
    return {"cues": cues, "pseudo": pseudo}, source["_license_MIT"]


def _comparators(shared: Path) -> Json:
    reverse = {
        phrase: op
        for phrase, op in _read(shared, "comparators.json")["fidelity_reverse"].items()
        if op in COMPARATOR_OPS
    }
    return {"reverse": {**reverse, **EXTRA_REVERSE}}


def _looks_plural(written: str) -> bool:
    """The rewriter's reading of a matched alias: an "s" plural takes `plain_plural`."""
    return written.endswith("s") and not written.endswith(("ss", "us", "is"))


def _cue_reader(negation: Json) -> Any:
    """A reader of the NegEx cues in a phrase, pseudo-negations ("not only") left out.

    The build reads the cues itself rather than through the engine it feeds, so a change in
    the engine cannot quietly loosen the data's checks.
    """

    def words(phrases: list[str]) -> re.Pattern[str]:
        ordered = sorted(phrases, key=len, reverse=True)
        return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ordered)) + r")(?![\w-])")

    cues, pseudo = words(negation["cues"]), words(negation["pseudo"])

    def read(text: str) -> Counter[str]:
        lowered = pseudo.sub(lambda m: "_" * len(m.group(0)), text.casefold())
        return Counter(cues.findall(lowered))

    return read


def _problems(term: Json, comparator: re.Pattern[str], cues: Any) -> list[str]:
    """Every way one term would read wrong wherever its phrases stand."""
    problems = [f"no {key}" for key in ("source", "licence") if not term.get(key)]
    if term["render"] not in RENDERS:
        problems.append(f"render {term['render']!r} is not one of {sorted(RENDERS)}")
    if not isinstance(term.get("reviewed"), bool):
        problems.append("reviewed must be true or false")
    aliases = term["match"] + term["abbr"]
    if not aliases:
        problems.append("no phrase or abbreviation to match")
    plains = [p for p in (term["plain"], term.get("plain_plural")) if p]
    if term["render"] == "define":
        if plains:
            problems.append("a define-only term has no plain words")
        return problems
    if not term["plain"]:
        problems.append("no plain words")
    if term.get("plain_plural") and not any(map(_looks_plural, aliases)):
        problems.append("plain_plural, but no alias ends in a plural 's'")
    for plain in plains:
        if re.search(r"\d", plain) or comparator.search(plain):
            problems.append(f"{plain!r}: a digit or comparator would blind the checker")
        if re.search(r"[-()\u2010-\u2015]", plain):
            problems.append(f"{plain!r}: hyphens and parentheses do not belong in plain words")
        if term["render"] == "everyday" and plain.casefold() in map(str.casefold, aliases):
            problems.append(f"{plain!r} is one of its own aliases")
        said = cues(plain)
        for alias in aliases:
            added = set(said - cues(alias))
            if not added <= set(term.get("adds", ())):
                problems.append(f"{plain!r} adds {sorted(added)} to {alias!r}: declare in adds")
    for cue in term.get("adds", ()):
        if not any(cues(plain)[cue] for plain in plains):
            problems.append(f"adds {cue!r}, which its plain words do not say")
    return problems


def _check(data: Json) -> None:
    """Refuse terms that would read wrong, and aliases two terms claim (one would be lost)."""
    phrases = "|".join(re.escape(p) for p in data["comparators"]["reverse"])
    comparator = re.compile(rf"\b(?:{phrases})\b", re.IGNORECASE)
    cues = _cue_reader(data["negation"])
    owner: dict[str, str] = {}
    problems: list[str] = []
    for term in data["terms"]:
        problems += [f"{term['id']}: {p}" for p in _problems(term, comparator, cues)]
        for alias in {a.casefold() for a in term["match"]} | set(term["abbr"]):
            if owner.setdefault(alias, term["id"]) != term["id"]:
                problems.append(f"{term['id']}: {alias!r} is already an alias of {owner[alias]}")
    if problems:
        raise SystemExit("glossary terms refused:\n" + "\n".join(problems))


def build(shared: Path, lexicon: Path = LEXICON_FILE) -> tuple[str, str]:
    """(glossary JSON text, negspacy licence text) as they should be committed."""
    negation, mit = _negation(shared)
    data: Json = {
        "_sources": {
            "terms": "tools/glossary/lexicon.json (project lexicon: each term names its source; "
            "it began as the shared eligibility_glossary_draft.json) and, as define-only terms, "
            "fda_oce_patient_friendly_glossary.json (FDA Oncology Center of Excellence, public "
            "domain, credit FDA OCE)",
            "scales": "ecog_performance_status.json (ECOG-ACRIN, public domain), "
            "ctcae_v5_grades.json (NCI CTCAE v5.0, public domain), "
            "karnofsky_performance_status_plain.json (project paraphrases)",
            "negation": "negation_triggers_en_negspacy.json (negspacy termsets en + en_clinical)",
            "comparators": "comparators.json fidelity_reverse (project-owned) plus the scale "
            "phrases in tools/build_glossary.py",
            "statuses": "ctgov_overall_status.json (display names: ClinicalTrials.gov, public "
            "domain; patient wording drafted for this project)",
            "phases": "trial_phases.json (display names: ClinicalTrials.gov PRS via HL7 THO, "
            "CC0; patient wording drafted for this project, sizes from FDA, public domain)",
        },
        "_licences": {
            "negation": "MIT, Copyright (c) 2019 Jeno Pizarro: see LICENSE-negspacy.txt beside "
            "this file, which must travel with it",
            "terms": "each term's own 'licence': definitions quoted from NCI, FDA, NLM and NIH "
            "are US Government works (public domain; NCI and FDA ask for credit); pairs from "
            "PlainLanguage.gov are public domain (CC0); everything else is project-owned. No "
            "clinician has reviewed the terms yet ('reviewed': false).",
            "other": "US Government works (public domain) and project-owned text",
        },
        "terms": _terms(shared, lexicon),
        "scales": _scales(shared),
        "negation": negation,
        "comparators": _comparators(shared),
        "statuses": _statuses(shared),
        "phases": _phases(shared),
    }
    _check(data)
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n", mit.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "glossary")
    parser.add_argument("--lexicon", type=Path, default=LEXICON_FILE, help="the lexicon to build")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    glossary, licence = build(args.shared, args.lexicon)
    if args.check:
        stale = [
            str(path.relative_to(ROOT))
            for path, text in ((GLOSSARY_FILE, glossary), (NEGSPACY_LICENCE_FILE, licence))
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"{name} is not what tools/build_glossary.py builds; run it to regenerate")
        return 1 if stale else 0
    DATA.mkdir(exist_ok=True)
    GLOSSARY_FILE.write_text(glossary, encoding="utf-8")
    NEGSPACY_LICENCE_FILE.write_text(licence, encoding="utf-8")
    print(f"wrote {GLOSSARY_FILE.relative_to(ROOT)} and {NEGSPACY_LICENCE_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
