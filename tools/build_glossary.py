"""Build the packaged glossary `watcher/data/glossary.json` from the shared glossary folder.

Run from the checkout: `python tools/build_glossary.py --shared ../shared/glossary` (add
`--check` to only verify that the committed files are what the build makes). The shared
folder holds the collected sources with their licences (its README says which is which); the
package needs only the parts the rewriter and the fidelity checker read, in one small file:

- `terms`: the project's eligibility glossary (`eligibility_glossary_draft.json`: phrases,
  abbreviations, plain words, meaning) plus, as "define only" entries, the FDA OCE
  patient-friendly terms that glossary does not already cover;
- `scales`: plain wording of each ECOG level and CTCAE grade, and the Karnofsky meaning;
- `negation`: the NegEx cue lists from negspacy (`en` plus `en_clinical`). negspacy is MIT
  licensed, so its licence text is written beside the data as `LICENSE-negspacy.txt`;
- `comparators`: the reverse map the fidelity checker uses to read plain wording back as a
  comparator, from `comparators.json`, plus the phrases the rewriter uses for scales;
- `statuses` and `phases`: the display name and the patient wording of each overall status
  (`ctgov_overall_status.json`) and phase (`trial_phases.json`), for the trial summary;
- everyday words (`EVERYDAY` below): a project-drafted list of common words in criteria and
  the everyday word a patient would use ("participants" → "people", "prior" → "earlier").
  They are terms like the others (written "plain words (ORIGINAL)", checked the same way) but
  marked `"render": "everyday"` and `"source_status": "drafted"`: they have no meaning to list,
  and a clinician should review every pair before release.

The ctparser CSVs (Apache-2.0) are not used, so neither they nor their NOTICE are shipped.
The build refuses plain wording that would blind the fidelity checker: a plain phrase may not
contain a digit or a comparator phrase, since the checker counts both in the rewritten text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "watcher" / "data"
GLOSSARY_FILE = DATA / "glossary.json"
NEGSPACY_LICENCE_FILE = DATA / "LICENSE-negspacy.txt"

# Phrases the rewriter writes for scale values and grades ("grade 1 or lower", "higher than 2")
# that comparators.json's reverse map does not list; project-drafted, same meaning as a symbol.
EXTRA_REVERSE = {"higher than": ">", "lower than": "<", "greater than": ">", "or greater": ">="}
COMPARATOR_OPS = {">", ">=", "<", "<="}
# Project decisions on the draft glossary, each with its reason (a clinician should confirm):
# - terms whose plain wording cannot stand in for the term in a sentence are only defined:
DEFINE_ONLY = {
    # "agreeing in writing after learning the risks and benefits" is not a noun phrase:
    # "has given agreeing in writing …" and "sign an … agreeing in writing …" are not English.
    "informed_consent",
}
# - aliases that say more than the plain wording are only defined, never replaced, because
#   "round of treatment (first-line therapy)" drops "first" from the words a reader reads:
NARROWER_ALIASES = {
    "line_of_therapy": {
        "prior line",
        "prior lines",
        "first-line therapy",
        "first line therapy",
        "first-line treatment",
        "first-line",
        "frontline therapy",
        "front-line therapy",
        "1L",
    },
}
# Everyday words, drafted for this project (source_status "drafted"; a clinician should review
# each pair). Each row: the words as trials write them, the everyday word, its plural when the
# written words include a plural. A row is only added where the everyday word can stand in the
# same place in the sentence for every form listed ("eligible for surgery" is why "eligible"
# reads "suitable", not "able to join"). Words whose everyday form needs a negation ("not
# controlled" for "uncontrolled") are left out: a negation a trial did not write is a new
# claim, even where the meaning looks the same.
EVERYDAY: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (("participant", "participants"), "person", "people"),
    (("individuals",), "people", None),
    (("females",), "women", None),
    (("males",), "men", None),
    (("investigator", "investigators"), "study doctor", "study doctors"),
    (("eligible",), "suitable", None),
    (("documented",), "recorded", None),
    (("prior to",), "before", None),
    (("prior",), "earlier", None),
    (("previous",), "earlier", None),
    (("adequate",), "good enough", None),
    (("sufficient",), "enough", None),
    (("clinically significant", "significant"), "serious", None),
    (("require",), "need", None),
    (("requires",), "needs", None),
    (("requiring",), "needing", None),
    (("evidence",), "signs", None),
    (("additional",), "extra", None),
    (("receive",), "get", None),
    (("receiving",), "getting", None),
    (("received",), "had", None),
    (("undergo",), "have", None),
    (("undergoing",), "having", None),
    (("underwent",), "had", None),
    (("administered",), "given", None),
    (("approximately",), "about", None),
    (("subsequent",), "later", None),
    (("initiation",), "start", None),
    (("discontinue",), "stop", None),
    (("discontinued",), "stopped", None),
    (("discontinuation",), "stopping", None),
    (("currently",), "now", None),
    (("demonstrate",), "show", None),
    (("permitted",), "allowed", None),
    (("anticipated",), "expected", None),
    (("utilize",), "use", None),
    (("comply with",), "follow", None),
    (("elevated",), "raised", None),
    (("persistent",), "lasting", None),
    (("duration",), "length", None),
    (("assessment", "evaluation"), "check", None),
    (("hypersensitivity",), "allergy", None),
    (("cardiovascular",), "heart and blood vessel", None),
    (("cerebrovascular",), "brain blood vessel", None),
    (("pulmonary",), "lung", None),
    (("hepatic",), "liver", None),
    (("renal",), "kidney", None),
    (("cardiac",), "heart", None),
    (("gastrointestinal",), "stomach and bowel", None),
    (("laboratory",), "lab", None),
    (("transplantation",), "transplant", None),
    (("lactating",), "breastfeeding", None),
    (("toxicity", "toxicities"), "side effect", "side effects"),
    (("radiotherapy", "radiation therapy"), "radiation treatment", None),
    (("therapy", "therapies"), "treatment", "treatments"),
    (("intervention", "interventions"), "treatment", "treatments"),
    (("corticosteroid", "corticosteroids"), "steroid", "steroids"),
    (("immunosuppressive",), "immune-weakening", None),
    (("imaging examination", "imaging examinations", "imaging studies"), "scan", "scans"),
    (("imaging",), "scans", None),
    (("mutation", "mutations"), "gene change", "gene changes"),
    (("enrollment", "enrolment"), "joining the study", None),
    (("criterion",), "rule", None),
    (("criteria",), "rules", None),  # a Latin plural: no "s" to tell it by
    (("at baseline",), "at the start", None),
    (("participate",), "take part", None),
    (("participation",), "taking part", None),
    (("interfere with",), "get in the way of", None),
    (("regimen",), "treatment plan", None),
    (("myocardial infarction",), "heart attack", None),
    (("alopecia",), "hair loss", None),
    (("psychiatric",), "mental health", None),
    (("associated with",), "linked to", None),
    (("obstruction",), "blockage", None),
    (("bilateral",), "on both sides", None),
    (("fibrosis",), "scarring", None),
    (("amenable to",), "suitable for", None),
    (("hemorrhage", "haemorrhage"), "bleeding", None),
    (("dyspnea", "dyspnoea"), "shortness of breath", None),
    (("edema", "oedema"), "swelling", None),
    (("cirrhosis",), "liver scarring", None),
)
# FDA OCE terms left out: in criteria "subject" is mostly the verb or "subject to", where the
# FDA meaning ("a person participating in a clinical trial") would be wrong.
FDA_SKIPPED = {"Subject"}

Json = dict[str, Any]


def _read(shared: Path, name: str) -> Any:
    return json.loads((shared / name).read_text(encoding="utf-8"))


def _fda_names(term: str) -> tuple[list[str], list[str]]:
    """'Overall survival (OS)' → (['Overall survival'], ['OS']); 'A or B' → both as phrases."""
    abbr = re.findall(r"\(([^()]+)\)", term)
    name = re.sub(r"\s*\([^()]*\)", "", term).strip()
    phrases = [part.strip() for part in name.split(" or ")] if " or " in name else [name]
    return phrases, abbr


def _terms(shared: Path) -> list[Json]:
    draft = _read(shared, "eligibility_glossary_draft.json")
    terms: list[Json] = []
    for entry in draft["entries"]:
        narrower = NARROWER_ALIASES.get(entry["id"], set())
        term: Json = {
            "id": entry["id"],
            "match": [a for a in entry["match"] if a not in narrower],
            "abbr": [a for a in entry["abbr"] if a not in narrower],
            "render": "define" if entry["id"] in DEFINE_ONLY else entry["render"],
            "plain": entry["plain"],
            "explain": entry["explain"],
        }
        if entry.get("plain_plural"):
            term["plain_plural"] = entry["plain_plural"]
        terms.append(term)
        if narrower:
            terms.append(
                {
                    "id": f"{entry['id']}_narrower",
                    "match": [a for a in entry["match"] if a in narrower],
                    "abbr": [a for a in entry["abbr"] if a in narrower],
                    "render": "define",
                    "plain": "",
                    "explain": entry["explain"],
                }
            )
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
            }
        )
    known = {alias.casefold() for t in terms for alias in t["match"] + t["abbr"]}
    return terms + _everyday(known)


def _everyday(known: set[str]) -> list[Json]:
    """The drafted everyday words, leaving out any the glossaries above already cover."""
    terms: list[Json] = []
    for written, plain, plural in EVERYDAY:
        if any(phrase.casefold() in known for phrase in written):
            raise SystemExit(f"everyday words {written} are already a glossary term")
        term: Json = {
            "id": "everyday_" + re.sub(r"[^a-z0-9]+", "_", written[0]).strip("_"),
            "match": list(written),
            "abbr": [],
            "render": "everyday",
            "plain": plain,
            "explain": "",
            "source_status": "drafted",
        }
        if plural:
            term["plain_plural"] = plural
        terms.append(term)
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


def _negation(shared: Path) -> tuple[Json, str]:
    source = _read(shared, "negation_triggers_en_negspacy.json")
    sets = (source["en"], source["en_clinical_additions"])
    cues = sorted({c for s in sets for c in s["preceding_negations"] + s["following_negations"]})
    pseudo = sorted({c for s in sets for c in s["pseudo_negations"]})
    return {"cues": cues, "pseudo": pseudo}, source["_license_MIT"]


def _comparators(shared: Path) -> Json:
    reverse = {
        phrase: op
        for phrase, op in _read(shared, "comparators.json")["fidelity_reverse"].items()
        if op in COMPARATOR_OPS
    }
    return {"reverse": {**reverse, **EXTRA_REVERSE}}


def _check(data: Json) -> None:
    """Refuse plain wording the fidelity checker could mistake for the trial's own words."""
    phrases = "|".join(re.escape(p) for p in data["comparators"]["reverse"])
    comparator = re.compile(rf"\b(?:{phrases})\b", re.IGNORECASE)
    for term in data["terms"]:
        for plain in filter(None, (term["plain"], term.get("plain_plural"))):
            if re.search(r"\d", plain) or comparator.search(plain):
                raise SystemExit(f"glossary term {term['id']}: plain wording {plain!r} is unsafe")


def build(shared: Path) -> tuple[str, str]:
    """(glossary JSON text, negspacy licence text) as they should be committed."""
    negation, mit = _negation(shared)
    draft = _read(shared, "eligibility_glossary_draft.json")
    data: Json = {
        "_sources": {
            "terms": "eligibility_glossary_draft.json (project draft; quotes from US Government "
            "public-domain sources) and fda_oce_patient_friendly_glossary.json (FDA Oncology "
            "Center of Excellence, public domain, credit FDA OCE)",
            "scales": "ecog_performance_status.json (ECOG-ACRIN, public domain), "
            "ctcae_v5_grades.json (NCI CTCAE v5.0, public domain), "
            "karnofsky_performance_status_plain.json (project paraphrases)",
            "negation": "negation_triggers_en_negspacy.json (negspacy termsets en + en_clinical)",
            "comparators": "comparators.json fidelity_reverse (project-owned) plus the scale "
            "phrases in tools/build_glossary.py",
            "everyday": "terms with render 'everyday': drafted for this project in "
            "tools/build_glossary.py (EVERYDAY), source_status 'drafted', to be reviewed by a "
            "clinician",
            "statuses": "ctgov_overall_status.json (display names: ClinicalTrials.gov, public "
            "domain; patient wording drafted for this project)",
            "phases": "trial_phases.json (display names: ClinicalTrials.gov PRS via HL7 THO, "
            "CC0; patient wording drafted for this project, sizes from FDA, public domain)",
        },
        "_licences": {
            "negation": "MIT, Copyright (c) 2019 Jeno Pizarro: see LICENSE-negspacy.txt beside "
            "this file, which must travel with it",
            "terms": draft["_license"],
            "other": "US Government works (public domain) and project-owned text",
        },
        "terms": _terms(shared),
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
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    glossary, licence = build(args.shared)
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
