"""The plain-English glossary shipped in the package, read once.

The data is built from the shared glossary folder by `tools/build_glossary.py` and committed as
`watcher/data/glossary.json` (with `LICENSE-negspacy.txt`, the licence of the negation cues,
beside it). It is read through `importlib.resources` so an installed wheel finds it the same
way a checkout does. `Glossary` is data only; the rewriter and the fidelity checker each build
their own lookups from it, so the checker never relies on the rewriter's reading of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Term:
    """One glossary entry.

    `phrases` match whole words in any case; `abbreviations` match exactly (eGFR is not EGFR).
    A `replace` term's words are replaced by its plain words wherever they read as English, and
    the term is listed once, with its meaning, under "What these words mean"; a define-only term
    keeps the original words and is only listed. An `everyday` term is a common word with a
    simpler one ("prior" → "before"): it is replaced the same way and has no meaning to list.
    `adds` names the negation words the plain words say that the original words carry only in
    their meaning ("asymptomatic" → "without symptoms"), so the fidelity checker allows them.
    """

    id: str
    phrases: tuple[str, ...]
    abbreviations: tuple[str, ...]
    replace: bool
    plain: str
    plain_plural: str | None
    meaning: str
    everyday: bool = False
    adds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GlossaryHit:
    """A term the reader is told about: the words as the trial wrote them and what they mean.

    `levels` lists the scale levels an item names ("0": "Fully active…") when the term is a
    scale, so "ECOG 0 to 1" comes with what 0 and 1 mean. `plain` is the plain words the reader
    read in its place ("" when the words were kept as written).
    """

    id: str
    term: str
    meaning: str
    levels: tuple[tuple[str, str], ...] = ()
    everyday: bool = False  # an everyday word swapped in: nothing to explain
    plain: str = ""


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a registry code means to a patient: its display name and a plain explanation.

    For an overall status, `open_to_new` says whether new people can join ("yes", "not yet",
    "only if invited", "no"…); phases leave it empty.
    """

    display: str
    plain: str
    open_to_new: str = ""


# eq=False: a glossary is compared by identity, which also makes it hashable, so the modules
# that read it can memoise the lookups they build from it.
@dataclass(frozen=True, slots=True, eq=False)
class Glossary:
    """Everything the rewriter and the fidelity checker read from the packaged data."""

    terms: tuple[Term, ...]
    scales: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # scale id → (level, plain)
    negation_cues: tuple[str, ...]
    pseudo_negations: tuple[str, ...]
    comparator_phrases: tuple[tuple[str, str], ...]  # plain phrase → comparator (">=")
    statuses: tuple[tuple[str, Meaning], ...] = ()  # overallStatus value → meaning
    phases: tuple[tuple[str, Meaning], ...] = ()  # phase value ("PHASE2") → meaning

    def term(self, term_id: str) -> Term:
        """The term with this id (KeyError when the data has none: a packaging bug)."""
        for term in self.terms:
            if term.id == term_id:
                return term
        raise KeyError(term_id)

    def levels(self, scale: str) -> dict[str, str]:
        """Plain meaning of each level of a scale, keyed by the level as written ("0", "60")."""
        return dict(dict(self.scales)[scale])

    def status(self, value: str | None) -> Meaning | None:
        """What an overall status means for joining; None for a value the data does not know."""
        return dict(self.statuses).get(value or "")

    def phase(self, value: str) -> Meaning | None:
        """What a phase means; None for a value the data does not know."""
        return dict(self.phases).get(value)


def glossary_from_json(data: dict[str, Any]) -> Glossary:
    """A `Glossary` from the packaged JSON's structure (tests build small ones the same way)."""
    terms = tuple(
        Term(
            id=entry["id"],
            phrases=tuple(entry["match"]),
            abbreviations=tuple(entry["abbr"]),
            replace=entry["render"] in ("replace", "everyday"),
            plain=entry["plain"],
            plain_plural=entry.get("plain_plural"),
            meaning=entry["explain"],
            everyday=entry["render"] == "everyday",
            adds=tuple(entry.get("adds", ())),
        )
        for entry in data["terms"]
    )
    scales = tuple((name, tuple(levels.items())) for name, levels in data["scales"].items())
    statuses = tuple(
        (value, Meaning(m["display"], m["plain"], m["open"]))
        for value, m in data.get("statuses", {}).items()
    )
    phases = tuple(
        (value, Meaning(m["display"], m["plain"])) for value, m in data.get("phases", {}).items()
    )
    return Glossary(
        terms=terms,
        scales=scales,
        negation_cues=tuple(data["negation"]["cues"]),
        pseudo_negations=tuple(data["negation"]["pseudo"]),
        comparator_phrases=tuple(data["comparators"]["reverse"].items()),
        statuses=statuses,
        phases=phases,
    )
