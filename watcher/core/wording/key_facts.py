"""Key facts: the few things a patient asks first, in short "you" sentences (pure).

(Over 400 lines on purpose: eight topic rules share one strict reading of the criteria — top-level
items only, hedges, exceptions in other items — and each rule's grammar sits beside the
sentence it makes, so a reviewer checks a rule and its wording in one place.)

A patient reading a trial wants to know at once whether it could be for them: how old, which
sex, healthy volunteers or not, how active they must be, whether cancer in the brain rules them
out, and so on. The answers are buried in 20 to 90 criteria written for regulators; the key
facts put them first, each linked back to what it came from (`KeyFact.sources`: indexes into
the criteria items in document order; `KeyFact.fields`: the record fields).

Age, sex and healthy volunteers come from the record's structured fields. The others come from
the criteria by strict rules, and **a rule says nothing unless it is sure**: no fact is better
than a wrong one, since a patient may stop reading at the key facts. So a rule

- reads only top-level items (a nested item, or one under a limiting parent such as "For
  cohort 2:", may apply to some people only) in the section its meaning depends on: "Pregnant
  or breastfeeding" excludes only when it is an exclusion item;
- matches the whole item, or the whole of its part it rewrites, by a grammar of the ways
  registries write that criterion; any other words that could change who it applies to
  ("or", "if", "unless", "for patients over 16", a second scale) make it stay silent;
- stays silent when another item about the same topic allows an exception ("treated brain
  metastases may participate", "not required"), or when two items disagree;
- keeps every number, level and gene token exactly as written ("ECOG 0 to 1", "at least two").

A fact that is true but not the whole item ("You cannot join if you are pregnant or
breastfeeding" from an item that also names a time window) is allowed: the item it links to
follows in the summary. Sentences use short everyday words (target: grade 6 or below).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from watcher.core.record import Eligibility, Trial

# The topics, in the order a patient reads them.
TOPICS: tuple[str, ...] = (
    "age",
    "sex",
    "healthy_volunteers",
    "performance_status",
    "brain_metastases",
    "measurable_disease",
    "pregnancy",
    "contraception",
    "hiv_hepatitis",
    "tumor_markers",
    "prior_treatment",
)
_FIELD = "protocolSection.eligibilityModule."


class CriteriaItem(Protocol):
    """What the rules read of an eligibility item: the registry's words, never a rewrite of
    them, and where the item sits (`watcher.core.rewrite.PlainItem` is one)."""

    @property
    def section(self) -> str: ...
    @property
    def original(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def parent(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class KeyFact:
    """One short sentence for the reader, and where it comes from.

    `sources` are indexes into the criteria items (document order) the fact was read from;
    `fields` are the record fields, for the facts that come from structured data.
    """

    topic: str
    text: str
    sources: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()


def key_facts(trial: Trial, items: Sequence[CriteriaItem]) -> tuple[KeyFact, ...]:
    """The key facts of a trial, in `TOPICS` order; a topic no rule is sure of is left out."""
    read = tuple(_Read(item.section, item.original, item.depth, item.parent) for item in items)
    facts = [*_structured(trial.eligibility), *_criteria_facts(read)]
    order = {topic: i for i, topic in enumerate(TOPICS)}
    return tuple(sorted(facts, key=lambda fact: order[fact.topic]))


@dataclass(frozen=True, slots=True)
class _Read:
    """An item as the rules read it (`CriteriaItem`), and no more: what their facts depend on."""

    section: str
    original: str
    depth: int
    parent: str | None


# Criteria read, kept: a new version of a trial mostly repeats its criteria, and each audience
# and place that reads a trial asks for its key facts again (a few kB a trial: 1 MB or so).
_READ_KEPT = 256


@lru_cache(maxsize=_READ_KEPT)
def _criteria_facts(items: tuple[_Read, ...]) -> tuple[KeyFact, ...]:
    """The facts the rules read from the criteria, rule by rule."""
    return tuple(fact for rule in _RULES for fact in rule(items))


# -- the structured fields -----------------------------------------------------------------------

_AGE = re.compile(r"(?P<n>\d+(?:\.\d+)?) (?P<unit>year|month|week|day|hour|minute)s?", re.I)
_SEX = {
    "ALL": "People of any sex can join.",
    "FEMALE": "Only females can join.",
    "MALE": "Only males can join.",
}
_HEALTHY = {
    True: "Healthy volunteers can join.",
    False: "This study does not take healthy volunteers.",
}


def _age(value: str | None) -> tuple[str, str] | None:
    match = _AGE.fullmatch((value or "").strip())
    return (match["n"], match["unit"].lower()) if match else None


def _unit(n: str, unit: str) -> str:
    return unit if n == "1" else f"{unit}s"


def _age_text(low: tuple[str, str] | None, high: tuple[str, str] | None) -> str | None:
    if low and high:
        if low[1] == high[1]:
            return f"You must be {low[0]} to {high[0]} {_unit(*high)} old."
        return f"You must be {low[0]} {_unit(*low)} to {high[0]} {_unit(*high)} old."
    if low:
        return f"You must be at least {low[0]} {_unit(*low)} old."
    if high:
        return f"You must be {high[0]} {_unit(*high)} old or younger."
    return None


def _structured(eligibility: Eligibility) -> Iterator[KeyFact]:
    """Age, sex and healthy volunteers, as the record's fields give them.

    An age the field leaves out is not "any age" (the criteria may set one), and a field
    written in a way the rule does not read ("N/A") makes the age fact stay silent.
    """
    low, high = _age(eligibility.minimum_age), _age(eligibility.maximum_age)
    unread = (eligibility.minimum_age and not low) or (eligibility.maximum_age and not high)
    age = None if unread else _age_text(low, high)
    if age:
        fields = tuple(
            f"{_FIELD}{name}"
            for name, value in (("minimumAge", low), ("maximumAge", high))
            if value
        )
        yield KeyFact("age", age, fields=fields)
    if eligibility.sex in _SEX:
        yield KeyFact("sex", _SEX[eligibility.sex], fields=(f"{_FIELD}sex",))
    if eligibility.healthy_volunteers is not None:
        text = _HEALTHY[eligibility.healthy_volunteers]
        yield KeyFact("healthy_volunteers", text, fields=(f"{_FIELD}healthyVolunteers",))


# -- reading the criteria --------------------------------------------------------------------------

_LIST_NUMBER = re.compile(r"^\(?\d{1,3}[.)]\s+")  # "27. Is pregnant…": a number typed in the text
_PARENTHESES = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# Words with which another item about the same topic lets some people in after all.
_ALLOWANCE = re.compile(
    r"\b(?:eligible|allowed|permitted|not excluded|not required|regardless|unless|except"
    r"|may (?:be )?(?:enrolled|enroll|participate|join|consider)"
    r"|can (?:be )?(?:enrolled|enroll|participate|join)"
    r"|well[- ]controlled|anti-?retroviral)\b",
    re.I,
)

_Found = list[tuple[int, str]]  # (item index, the fact's sentence)


def _clean(text: str) -> str:
    """An item's words for matching: spaces collapsed, a typed list number and end marks gone."""
    return _LIST_NUMBER.sub("", " ".join(text.split())).rstrip(" ;.,-")


def _top(items: Sequence[CriteriaItem], *sections: str) -> Iterator[tuple[int, str]]:
    """(index, cleaned text) of the top-level items of these sections.

    A nested item, or one with a parent, may hold for some people only ("For cohort 2:"), so
    the rules never read it.
    """
    for index, item in enumerate(items):
        if item.section in sections and item.depth == 0 and item.parent is None:
            yield index, _clean(item.original)


def _has_children(items: Sequence[CriteriaItem], index: int) -> bool:
    following = items[index + 1] if index + 1 < len(items) else None
    return following is not None and following.depth > items[index].depth


def _outside_parentheses(text: str) -> str:
    while True:
        shorter = _PARENTHESES.sub(" ", text)
        if shorter == text:
            return text
        text = shorter


def _excepted(items: Sequence[CriteriaItem], sources: set[int], mention: re.Pattern[str]) -> bool:
    """Another item about the topic lets some people in after all (or is not required)."""
    return any(
        index not in sources and mention.search(item.original) and _ALLOWANCE.search(item.original)
        for index, item in enumerate(items)
    )


def _one(topic: str, found: _Found) -> list[KeyFact]:
    """The fact when every item that states it agrees; nothing when two items disagree."""
    texts = {text for _, text in found}
    if len(texts) != 1:
        return []
    return [KeyFact(topic, texts.pop(), tuple(sorted({index for index, _ in found})))]


def _listing(parts: Sequence[str], conjunction: str = "and") -> str:
    if len(parts) <= 2:
        return f" {conjunction} ".join(parts)
    return f"{', '.join(parts[:-1])}, {conjunction} {parts[-1]}"


# -- performance status --------------------------------------------------------------------------

_PS_MENTION = re.compile(
    r"\b(?:ECOG|Karnofsky|Lansky|KPS|LPS|Zubrod|performance (?:status|score))\b", re.I
)
_ECOG = re.compile(
    r"(?P<scale>Eastern [Cc]ooperative [Oo]ncology [Gg]roup|WHO/ECOG|ECOG/WHO|ECOG|WHO)\)?"
    r"(?:\s*(?:\((?:ECOG|ECOG PS|PS)\)|:|="
    r"|(?i:performance|status|score|scale|ps|of|is|must|be)\b))*"
    r"\s*(?:(?P<a>\d)\s*(?:-|\u2013|~|to|or)\s*(?P<b>\d)|(?:≤|<=|=<)\s*(?P<max>\d))(?![\d%]|\.\d)"
)
_KARNOFSKY = re.compile(
    r"(?:Karnofsky(?: [Pp]erformance(?: [Ss]tatus| [Ss]core| [Ss]cale)?)?(?: \(KPS\))?|KPS)"
    r"(?:\s*(?:(?i:score|of|is|must be)\b|:))*\s*(?:≥|>=)\s*(?P<n>\d{2,3})(?P<percent>\s*%)?"
)
# Words beside a scale that limit who it applies to, or offer another way in.
_PS_HEDGE = re.compile(
    r"\b(?:or|if|unless|except|cohorts?|arms?|parts?|ages?|aged|years?|months?)\b", re.I
)
# A second scale with a value beside the one read ("…with no deterioration (ie, ECOG PS > 1)").
_PS_OTHER_SCALE = re.compile(r"\b(?:ECOG|WHO|Karnofsky|KPS|Lansky|LPS|Zubrod)\b[^.;]{0,30}?\d")
_ECOG_WORDS = {
    0: "be fully active",
    1: "be fully active or able to do light work",
    2: "be able to care for yourself and be up and about more than half the day",
    3: "be able to care for yourself at least a little",
}
_KARNOFSKY_WORDS = {
    90: "be able to do your normal activities",
    80: "be able to do your normal activities, even if it takes effort",
    70: "be able to care for yourself",
    60: "be able to care for most of your needs, with some help now and then",
}


def _ecog(text: str) -> str | None:
    match = _ECOG.search(text)
    if match is None:
        return None
    rest = text[: match.start()] + " " + text[match.end() :]
    if _PS_HEDGE.search(rest) or _PS_OTHER_SCALE.search(rest):
        return None
    low, high = (0, int(match["max"])) if match["max"] else (int(match["a"]), int(match["b"]))
    if low != 0 or high not in _ECOG_WORDS:
        return None
    scale = "ECOG" if match["scale"].startswith("Eastern") else match["scale"]
    level = "0" if high == 0 else f"0 to {high}"
    return f"You must {_ECOG_WORDS[high]} ({scale} {level})."


def _karnofsky(text: str) -> str | None:
    match = _KARNOFSKY.search(text)
    if match is None:
        return None
    rest = text[: match.start()] + " " + text[match.end() :]
    words = _KARNOFSKY_WORDS.get(int(match["n"]))
    if words is None or _PS_HEDGE.search(rest) or _PS_OTHER_SCALE.search(rest):
        return None
    percent = "%" if match["percent"] else ""
    return f"You must {words} (Karnofsky {match['n']}{percent} or higher)."


def _performance_status(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """ECOG or Karnofsky with its levels, from an inclusion item that names one scale only.

    Two scales in one item ("ECOG 0-1 (solid tumors) or KPS ≥ 70 (rHGG)") or a scale for an
    age group ("Karnofsky for patients > 16 years") say nothing; neither does a trial whose
    other items name a performance scale too (a second group may have its own).
    """
    found = [
        (index, text)
        for index, original in _top(items, "inclusion", "other")
        if (text := _ecog(original) or _karnofsky(original))
    ]
    sources = {index for index, _ in found}
    others = any(
        index not in sources and _PS_MENTION.search(item.original)
        for index, item in enumerate(items)
    )
    return [] if others else _one("performance_status", found)


# -- brain metastases ----------------------------------------------------------------------------

_BRAIN_MENTION = re.compile(r"\bbrain\b|\bCNS\b|central nervous system", re.I)
_SITE = (
    r"(?P<site>brain|CNS|central nervous system(?: \(CNS\))?)(?: \((?P<bracket>brain|CNS)\))?"
    r" metastas[ei]s"
)
_BRAIN_QUALITY = (
    r"\b(?:untreated|clinically active|actively progressing|active|symptomatic|unstable"
    r"|uncontrolled|progressing)\b"
)
_BRAIN_EXCLUDED = re.compile(
    r"(?:(?:has|have|with|presence of|suffering from|patients|participants|known)\s+)*"
    rf"(?:(?P<qualities>{_BRAIN_QUALITY}(?:(?:\s*,\s*|\s+)(?:(?:and/or|and|or)\s+)?"
    rf"{_BRAIN_QUALITY})*)\s+)?{_SITE}",
    re.I,
)
_BRAIN_CONDITION = (
    r"(?:treated|asymptomatic|stable|not requiring (?:continuous )?(?:corticosteroids|steroids))"
)
_BRAIN_UNLESS = re.compile(
    rf"{_SITE},? unless (?P<conditions>{_BRAIN_CONDITION}"
    rf"(?:\s*,\s*(?:and\s+)?{_BRAIN_CONDITION})*)",
    re.I,
)
_QUALITY_WORDS = {
    "untreated": "is not treated",
    "active": "is active",
    "clinically active": "is active",
    "symptomatic": "causes symptoms",
    "unstable": "is not stable",
    "uncontrolled": "is not under control",
    "actively progressing": "is growing",
    "progressing": "is growing",
}
_CONDITION_WORDS = {
    "treated": "have been treated",
    "asymptomatic": "cause no symptoms",
    "stable": "be stable",
}


def _where(site: str, bracket: str | None) -> str:
    """Your brain for "brain"; brain or spinal cord for CNS, unless the item says "(brain)"."""
    if site.lower() == "brain" or (bracket or "").lower() == "brain":
        return "your brain"
    return "your brain or spinal cord"


def _brain_excluded(text: str) -> str | None:
    match = _BRAIN_EXCLUDED.fullmatch(text)
    if match is None:
        return None
    where = _where(match["site"], match["bracket"])
    if not match["qualities"]:
        return f"You cannot join if cancer has spread to {where}."
    qualities = re.findall(_BRAIN_QUALITY, match["qualities"], re.I)
    words = list(dict.fromkeys(_QUALITY_WORDS[q.lower()] for q in qualities))
    joined_by_and = re.search(r"\band\b(?!/)", match["qualities"], re.I)
    listed = _listing(words, "and" if joined_by_and else "or")
    return f"You cannot join if cancer has spread to {where} and {listed}."


def _brain_unless(text: str) -> str | None:
    match = _BRAIN_UNLESS.fullmatch(text)
    if match is None:
        return None
    where = _where(match["site"], match["bracket"])
    conditions = re.findall(_BRAIN_CONDITION, match["conditions"], re.I)
    musts = [_CONDITION_WORDS[c.lower()] for c in conditions if c.lower() in _CONDITION_WORDS]
    steroids = [c for c in conditions if c.lower().startswith("not ")]
    text = f"If cancer has spread to {where}, it must {_listing(musts)}."
    if steroids:
        often = " all the time" if "continuous" in steroids[0].lower() else ""
        text += f" You must not need steroids for it{often}."
    return text


def _brain_metastases(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """From an exclusion item that is only about brain (or CNS) metastases and their state.

    "Symptomatic, untreated, or actively progressing CNS metastases" and "Brain metastases
    unless treated, asymptomatic, stable" are read; an item that adds anything else (a second
    sentence, meningitis, spinal cord compression) is not, and neither is a trial with another
    item letting some people with brain metastases in.
    """
    found = [
        (index, text)
        for index, original in _top(items, "exclusion")
        if (text := _brain_excluded(original) or _brain_unless(original))
    ]
    if _excepted(items, {index for index, _ in found}, _BRAIN_MENTION):
        return []
    return _one("brain_metastases", found)


# -- measurable disease --------------------------------------------------------------------------

_MEASURABLE = re.compile(
    r"(?:at least (?:one|1)|(?:≥|>=) ?1) (?:radiologically |radiographically )?measurable "
    r"(?:target )?(?:lesion|disease)|measurable disease",
    re.I,
)
_MEASURABLE_MENTION = re.compile(r"measurable|evaluable", re.I)
# Words that make measurable disease optional, conditional, or one way in among others.
_MEASURABLE_HEDGE = re.compile(
    r"\b(?:or|if|unless|except|cohorts?|arms?|parts?|phase|escalation|expansion|eligible|may"
    r"|not|no|without|regardless|only|optional|evaluable|assessable|outside|either)\b",
    re.I,
)


def _measurable_disease(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """From an inclusion item that requires measurable disease and says nothing that hedges it.

    "Measurable disease. Prostate cancer patients with bone only disease are eligible." and
    "For Cohort 2, … at least one measurable lesion" stay silent; so does an item whose list
    below says what counts ("Measurable disease, including at least one of the following:").
    """
    found: _Found = []
    for index, text in _top(items, "inclusion"):
        if not _MEASURABLE.search(text) or _MEASURABLE_HEDGE.search(text):
            continue
        if items[index].original.rstrip().endswith(":") or _has_children(items, index):
            continue
        found.append((index, "You must have at least one tumor that can be measured on scans."))
    if _excepted(items, {index for index, _ in found}, _MEASURABLE_MENTION):
        return []
    return _one("measurable_disease", found)


# -- pregnancy and breastfeeding -----------------------------------------------------------------

_STATE = (
    r"(?:pregnant|pregnancy|breast-?feeding|breast feeding|lactating|lactation"
    r"|nursing(?: \(lactating\))?)"
)
_PLAN = (
    r"(?:planning|plans?|intends?|intention of|expecting|anticipates?|likely)\s+(?:to\s+|on\s+)?"
    r"(?:become\s+|becoming\s+|get\s+|getting\s+)?(?:pregnant|pregnancy|a pregnancy|conceive)"
)
_SEPARATOR = r"(?:\s*,\s*(?:or\s+|and/or\s+)?|\s+(?:or|and/or)\s+)"
_WHO_WORDS = (
    r"(?:(?:is|are|a|who|women|woman|females?|female|subjects?|patients?|participants?)\s+)*"
)
_PREGNANCY_EXCLUDED = re.compile(
    rf"{_WHO_WORDS}(?P<states>{_STATE}(?:{_SEPARATOR}{_STATE})*)"
    rf"(?:{_SEPARATOR}(?P<plan>{_PLAN})(?P<window>.*)|(?:\s+(?:women|females))?)",
    re.I,
)
_PREGNANCY_NOT = re.compile(
    rf"{_WHO_WORDS}(?:does\s+)?not\s+(?P<states>{_STATE}(?:{_SEPARATOR}(?:not\s+)?{_STATE})*)",
    re.I,
)
_PREGNANCY_MENTION = re.compile(r"pregnan|breast-?\s?feed|lactat|nursing", re.I)
_WINDOW_HEDGE = re.compile(
    r"\b(?:unless|except|if|who|eligible|allowed|may|judged|investigator)\b", re.I
)


def _states(text: str) -> set[str]:
    found = re.findall(_STATE, text, re.I)
    return {"pregnant" if s.lower().startswith("pregnan") else "breastfeeding" for s in found}


def _pregnancy_states(text: str, section: str) -> set[str]:
    """Which of pregnant / breastfeeding an item excludes; empty when it is not only that."""
    if section == "exclusion":
        match = _PREGNANCY_EXCLUDED.fullmatch(text)
        if match is None or (match["plan"] and _WINDOW_HEDGE.search(match["window"])):
            return set()
        return _states(f"{match['states']} {match['window'] or ''}")
    match = _PREGNANCY_NOT.fullmatch(text)
    return _states(match["states"]) if match else set()


def _pregnancy(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """ "Pregnant or breastfeeding" as an exclusion, "Not pregnant or nursing" as an inclusion.

    An exclusion item read must be only that (a planned pregnancy and its time window may
    follow); the plan is not repeated in the fact, which stays short and true. "Not lactating
    with intent to breastfeed" is not read: the words after change what it asks.
    """
    states: set[str] = set()
    sources: set[int] = set()
    for index, text in _top(items, "inclusion", "exclusion", "other"):
        section = items[index].section
        if section == "other" and not text.lower().lstrip().startswith("not "):
            continue  # outside a section only "Not pregnant…" says which way it goes
        found = _pregnancy_states(text, "inclusion" if section == "other" else section)
        if found:
            states |= found
            sources.add(index)
    if not states or _excepted(items, sources, _PREGNANCY_MENTION):
        return []
    words = _listing([s for s in ("pregnant", "breastfeeding") if s in states], "or")
    return [KeyFact("pregnancy", f"You cannot join if you are {words}.", tuple(sorted(sources)))]


# -- contraception -------------------------------------------------------------------------------

# "…must agree to use highly effective methods of birth control": a requirement to use it.
_USE_BIRTH_CONTROL = re.compile(
    r"\b(?:must|agrees?|agreement|willing|required|need to)\b[^.;]{0,60}?"
    r"\b(?:use|using|practi[cs]e|adhere to|follow)\b[^.;]{0,60}?(?:contracepti|birth control)",
    re.I,
)
_CONTRACEPTION_HEDGE = re.compile(
    r"\b(?:sexually active|engage in|partners?|unless|except|cohorts?|local regulations?"
    r"|consistent with|advised|not required|optional|may)\b|\(b\)",
    re.I,
)
_CHILDBEARING = re.compile(
    r"child-?\s?bearing|WOCBP|POCBP|reproductive potential|premenopausal", re.I
)
_WOMEN = re.compile(r"\b(?:women|woman|females?|WOCBP)\b|child-?\s?bearing", re.I)
_FATHERING = re.compile(r"child[- ]?fathering|nonsterile males?|not surgically sterile", re.I)
_MEN = re.compile(r"\b(?:men|males?)\b|fathering", re.I)
_AFTER = re.compile(r"\bafter\b|\bthrough\b \d|\buntil\b", re.I)
_DURING = re.compile(r"\bduring\b|\bduration\b|\bthroughout\b|\bwhile\b|treatment period", re.I)
# Not having sex offered as the other way ("remain abstinent", "total abstinence (no sex)");
# "periodic abstinence … not acceptable" offers nothing.
_ABSTINENCE = re.compile(
    r"\b(?:total|true|complete|remain|be|practi[cs]e)\s+abstinen|\babstains?\b", re.I
)


def _who_uses(women: str | None, men: str | None) -> str:
    """ "If you could get pregnant or father a child, " and the like; "" for everyone."""
    if women == "a woman" and men == "a man":
        return ""  # every woman and every man: everyone
    if women and men and women.startswith("could") and men.startswith("could"):
        return f"If you {women} or {men.removeprefix('could ')}, "
    parts = [f"you {w}" if w.startswith("could") else f"you are {w}" for w in (women, men) if w]
    return f"If {' or '.join(parts)}, " if parts else ""


def _contraception(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """From inclusion items that require birth control of a group they name plainly.

    Who it applies to is said as the items say it ("If you could get pregnant", "If you are a
    man"); an item with a condition ("If sexually active", "who engage in…", a partner) or
    alternatives ("(a) … (b) …") says nothing, and so does a list below it.
    """
    women: str | None = None
    men: str | None = None
    anyone = after = during = abstinence = False
    sources: list[int] = []
    for index, text in _top(items, "inclusion"):
        if not _USE_BIRTH_CONTROL.search(text) or _CONTRACEPTION_HEDGE.search(text):
            continue
        if items[index].original.rstrip().endswith(":"):
            continue
        if _WOMEN.search(text):
            women = women or ("could get pregnant" if _CHILDBEARING.search(text) else "a woman")
        if _MEN.search(text):
            men = men or ("could father a child" if _FATHERING.search(text) else "a man")
        anyone = anyone or not (_WOMEN.search(text) or _MEN.search(text))
        after = after or bool(_AFTER.search(text))
        during = during or bool(_DURING.search(text))
        abstinence = abstinence or bool(_ABSTINENCE.search(text))
        sources.append(index)
    if not sources or (anyone and (women or men)):
        return []  # "everyone" in one item and a group in another: not sure who it is for
    who = _who_uses(women, men)
    text = f"{who}you must use birth control{' or not have sex' if abstinence else ''}."
    if after:
        text += " You must do this during the study and for some time after it."
    elif during:
        text += " You must do this during the study."
    return [KeyFact("contraception", text[0].upper() + text[1:], tuple(sources))]


# -- HIV and hepatitis ---------------------------------------------------------------------------

_VIRUS = (
    r"(?:human immunodeficiency virus(?: \(HIV\))?|HIV|hepatitis B or C(?: virus)?"
    r"(?: \(HBV or HCV\))?|hepatitis B and/or C|hepatitis [BC](?: virus)?(?: \(HBV\)| \(HCV\))?"
    r"|HBV|HCV)"
)
_VIRUS_MODIFIER = r"(?:known|history of|active|uncontrolled|current|prior|positive test for)"
_VIRUS_EXCLUDED = re.compile(
    r"(?:(?:has|have|is|patients? with|participants? with|patient is|participant is)\s+)?"
    rf"(?P<modifiers>(?:(?:a\s+)?{_VIRUS_MODIFIER}(?:\s+(?:or|and/or))?\s+)*)"
    rf"(?P<viruses>{_VIRUS}(?:(?:\s*,\s*|\s+)(?:or\s+|and/or\s+)?{_VIRUS})*)"
    r"(?P<tail>(?:\s+(?:infections?|positivity|seropositive))?)"
    r"(?P<controlled>\s+that is not well controlled)?",
    re.I,
)
_HIV_TEST = re.compile(r"negative HIV test(?: at screening)?", re.I)
_VIRUS_MENTIONS = {
    "HIV": re.compile(r"\bHIV\b|immunodeficiency virus", re.I),
    "B": re.compile(r"hepatitis B|\bHBV\b|HBsAg|hepatitis B/C", re.I),
    "C": re.compile(r"hepatitis (?:B/|B and/or |B or )?C\b|\bHCV\b", re.I),
}


def _viruses(text: str) -> tuple[str, ...]:
    found: list[str] = []
    if re.search(r"\bHIV\b|immunodeficiency", text, re.I):
        found.append("HIV")
    if re.search(r"hepatitis B|\bHBV\b", text, re.I):
        found.append("B")
    if re.search(r"hepatitis (?:B or |B and/or )?C\b|\bHCV\b", text, re.I):
        found.append("C")
    return tuple(found)


def _virus_words(viruses: Sequence[str]) -> str:
    if viruses == ("B", "C"):
        return "hepatitis B or C"
    return _listing([v if v == "HIV" else f"hepatitis {v}" for v in viruses], "or")


def _virus_excluded(text: str) -> tuple[tuple[str, ...], str, int] | None:
    """(viruses, sentence, breadth) of an exclusion item that is only about these viruses.

    Breadth orders two facts about the same viruses ("Known HIV positivity", "History of HIV
    infection"): the broader one is said, since it is the one a reader must not miss.
    """
    match = _VIRUS_EXCLUDED.fullmatch(text)
    if match is None:
        return None
    viruses = _viruses(match["viruses"])
    named = _virus_words(viruses)
    modifiers = {m.lower() for m in re.findall(_VIRUS_MODIFIER, match["modifiers"], re.I)}
    states = [
        w
        for m, w in (("active", "active"), ("uncontrolled", "not under control"))
        if m in modifiers
    ]
    if match["controlled"] and not modifiers - {"known"}:
        return viruses, f"You cannot join if you have {named} that is not well controlled.", 0
    if match["controlled"]:
        return None
    if states and not modifiers - {"known", "active", "uncontrolled"}:
        return viruses, f"You cannot join if you have {named} that is {_listing(states, 'or')}.", 0
    if modifiers == {"positive test for"}:
        return viruses, f"You cannot join if you test positive for {named}.", 1
    if modifiers & {"history of", "prior"} and not modifiers - {
        "known",
        "history of",
        "current",
        "prior",
    }:
        return viruses, f"You cannot join if you have or have had {named}.", 3
    if not modifiers - {"known"}:
        return viruses, f"You cannot join if you have {named}.", 2
    return None  # "current" alone, or modifiers mixed in ways not read here


def _hiv_hepatitis(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """From exclusion items that name only HIV / hepatitis B or C and how they are had.

    "Known HIV positivity", "Has active or uncontrolled hepatitis B or C infection" are read;
    "infectious diseases such as hepatitis B, hepatitis C, syphilis, AIDS" and items with a
    lab definition are not. A virus that another item lets in ("treated hepatitis B may be
    enrolled", "well controlled HIV on ART") gets no fact.
    """
    best: dict[tuple[str, ...], tuple[int, str, list[int]]] = {}
    read = [(index, _virus_excluded(text)) for index, text in _top(items, "exclusion")]
    read += [
        (index, (("HIV",), "You must have a negative HIV test.", 2))
        for index, text in _top(items, "inclusion")
        if _HIV_TEST.fullmatch(text)
    ]
    for index, found in read:
        if found is None:
            continue
        viruses, text, breadth = found
        kept = best.get(viruses)
        if kept is None or breadth > kept[0]:
            best[viruses] = (breadth, text, [index])
        elif kept[1] == text:
            kept[2].append(index)
    facts = []
    for viruses, (_, text, sources) in best.items():
        mentions = [_VIRUS_MENTIONS[v] for v in viruses]
        if not any(_excepted(items, set(sources), mention) for mention in mentions):
            facts.append(KeyFact("hiv_hepatitis", text, tuple(sources)))
    return facts


# -- tumor markers and gene changes --------------------------------------------------------------

_GENE = (
    r"(?:BRAF|EGFR|ALK|KRAS|NRAS|HRAS|ROS1|RET|MET|NTRK[123]?|BRCA[12]|IDH[12]|FGFR[1-4]"
    r"|PIK3CA|ERBB2|HER2|HER-2|MYCN|B7-?H3)"
)
_MARKER_LEAD = (
    r"(?i:(?:participants?|patients?|subjects?)\s+(?:must\s+)?(?:have|has)\s+"
    r"|(?:tumou?rs?\s+)?must\s+(?:have|be)\s+|have\s+|has\s+|documented\s+|confirmed\s+)?"
)
_PD_L1 = re.compile(
    r"(?:provision of (?:an )?acceptable tumou?r sample,? to confirm )?(?:tumou?rs? must have )?"
    r"(?:a )?(?:tumou?r )?(?:programmed death-ligand 1 \(PD-L1\)|PD-L1)(?: expression)?"
    r"(?: (?P<measure>TPS|CPS|TC|tumou?r proportion score \(TPS\)"
    r"|combined positive score \(CPS\)))?"
    r"(?: expression)? (?:≥|>=) ?(?P<n>\d+(?:\.\d+)?)(?P<percent> ?%)?(?: \(per local report\))?",
    re.I,
)
_GENE_CHANGE = re.compile(
    rf"{_MARKER_LEAD}(?:an? )?(?P<gene>{_GENE})(?: (?P<variant>[A-Z]\d{{2,4}}[A-Z]|exon \d+ \w+))?"
    r"(?: gene)? (?P<kind>mutation|fusion|rearrangement|amplification)(?:[- ]positive)?"
    r"(?: (?:solid tumou?r|tumou?r|cancer))?",
)
_MARKER_POSITIVE = re.compile(
    rf"{_MARKER_LEAD}(?:an? )?(?P<gene>{_GENE})(?:\+| positive|-positive)"
    r"(?: (?:solid tumou?r|tumou?r|cancer|sarcoma))?(?: with measurable disease)?",
)
_KIND_WORDS = {
    "mutation": "gene change",
    "fusion": "gene fusion",
    "rearrangement": "gene rearrangement",
    "amplification": "gene amplification",
}
_MARKER_MENTION = re.compile(rf"{_GENE}|PD-?L1", re.I)


def _marker(text: str) -> str | None:
    if match := _PD_L1.fullmatch(text):
        measure = match["measure"] or ""
        short = re.search(r"TPS|CPS|TC", measure.upper())
        label = f"PD-L1 {short.group()}" if short else "PD-L1 level"
        percent = "%" if match["percent"] else ""
        return f"Your tumor must have a {label} of {match['n']}{percent} or more."
    if match := _GENE_CHANGE.fullmatch(text):
        name = " ".join(p for p in (match["gene"], match["variant"]) if p)
        return f"Your tumor must have the {name} {_KIND_WORDS[match['kind']]}."
    if match := _MARKER_POSITIVE.fullmatch(text):
        return f"Your tumor must test positive for {match['gene']}."
    return None


def _tumor_markers(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """From an inclusion item that only requires a marker: "PD-L1 TPS ≥ 1%", "B7-H3+ sarcoma".

    A marker under a condition ("If the BRAF V600 mutation is positive, …"), a marker that
    must be absent ("EGFR wild-type", "Absence of sensitizing EGFR mutations") or a list of
    alternatives says nothing. Several different markers are several facts.
    """
    found: dict[str, list[int]] = {}
    for index, text in _top(items, "inclusion"):
        fact = _marker(text)
        if fact:
            found.setdefault(fact, []).append(index)
    facts = []
    for fact, sources in found.items():
        if not _excepted(items, set(sources), _MARKER_MENTION):
            facts.append(KeyFact("tumor_markers", fact, tuple(sources)))
    return facts


# -- earlier treatment ---------------------------------------------------------------------------

_NUMBER = r"(?:one|two|three|four|five|\d)"
_LINES = re.compile(
    r"\b(?P<verb>failed|received|had|progressed (?:on|after|following)|been treated with)"
    rf"\s+(?:with\s+)?at least (?P<n>{_NUMBER}) (?:(?:prior|previous|earlier) )?"
    r"(?:(?P<standard1>standard )?(?:therapy )?lines?(?: of (?P<standard2>standard )?"
    r"(?P<what>treatment|therapy|therapies|chemotherapy))?)",
    re.I,
)
_LINES_HEDGE = re.compile(
    r"\b(?:or|if|unless|except|cohorts?|arms?|maximum|no more than|up to|but|either|may)\b",
    re.I,
)
_LINES_HEDGE_IN_PARENTHESES = re.compile(r"\b(?:or|if|unless|may)\b", re.I)
_VERB_WORDS = {"failed": " that did not work"}


def _lines(text: str) -> str | None:
    matches = list(_LINES.finditer(text))
    if len(matches) != 1:
        return None
    outside = _outside_parentheses(text)
    inside = " ".join(_PARENTHESES.findall(text))
    if _LINES_HEDGE.search(outside) or _LINES_HEDGE_IN_PARENTHESES.search(inside):
        return None
    match = matches[0]
    if text[match.end() :].startswith(" of "):
        return None  # "lines of platinum-based chemotherapy": a kind the sentence would drop
    n = match["n"]
    lines = "line" if n.lower() in ("one", "1") else "lines"
    standard = "standard " if match["standard1"] or match["standard2"] else ""
    what = "chemotherapy" if (match["what"] or "").lower() == "chemotherapy" else "treatment"
    verb = match["verb"].lower()
    after = _VERB_WORDS.get(verb, "")
    if verb.startswith("progressed"):
        after = ", and your cancer must have grown after " + ("it" if lines == "line" else "them")
    return f"You must have had at least {n} earlier {lines} of {standard}{what}{after}."


def _prior_treatment(items: Sequence[CriteriaItem]) -> list[KeyFact]:
    """ "Failed at least two lines of standard treatment" and the like, from an inclusion item.

    The number is kept as written; an upper limit ("no more than 3"), alternatives ("or
    ineligible for chemotherapy") or a condition ("for Cohort 2") make it stay silent.
    """
    found = [
        (index, text) for index, original in _top(items, "inclusion") if (text := _lines(original))
    ]
    return _one("prior_treatment", found)


_RULES: tuple[Callable[[Sequence[CriteriaItem]], list[KeyFact]], ...] = (
    _performance_status,
    _brain_metastases,
    _measurable_disease,
    _pregnancy,
    _contraception,
    _hiv_hepatitis,
    _tumor_markers,
    _prior_treatment,
)
