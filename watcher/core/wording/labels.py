"""What a registry field and value are called: labels and values for exact outputs (pure).

The registry names its fields by JSON paths (`statusModule.dispFirstPostDateStruct`) and
holds its values as objects (`{"date": "2026-02-20", "type": "ACTUAL"}`). A coordinator reads
neither: `field_label` names a field as ClinicalTrials.gov's own pages do, or from its own
words when no label is listed, and `exact_value` writes any value as the registry spells its
words ("2026-02-20 (actual)", "BeiGene (INDUSTRY)"), never as JSON. `exact` builds its lines,
and the digest's spreadsheet its cells, from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from watcher.core.record import JSON
from watcher.core.wording.words import NONE, value_words

# The last part of a change's field, as a person names it; "" where the heading says it all.
FIELD_NAMES: Mapping[str, str] = {
    "overallStatus": "",
    "whyStopped": "",
    "phases": "",
    "conditions": "",
    "lastKnownStatus": "Last known status",
    "sex": "Sex",
    "minimumAge": "Minimum age",
    "maximumAge": "Maximum age",
    "healthyVolunteers": "Healthy volunteers",
    "startDateStruct": "Start",
    "primaryCompletionDateStruct": "Primary completion",
    "completionDateStruct": "Completion",
    "briefTitle": "Brief title",
    "officialTitle": "Official title",
    "name": "Lead sponsor",
    "collaborators": "Collaborators",
    "primaryOutcomes": "Primary outcome",
    "secondaryOutcomes": "Secondary outcome",
}
# A registry field outside the watched kinds ("other"), by its path under `protocolSection.`
# (or the section's own path), as ClinicalTrials.gov's own pages label it. A path not listed
# here is named from its own words (`_path_words`): never shown as a path.
OTHER_LABELS: Mapping[str, str] = {
    "annotationSection.annotationModule.unpostedAnnotation": "Unposted results",
    "conditionsModule.keywords": "Keywords",
    "descriptionModule.briefSummary": "Brief summary",
    "descriptionModule.detailedDescription": "Detailed description",
    "designModule.designInfo": "Study design",
    "designModule.studyType": "Study type",
    "identificationModule.acronym": "Acronym",
    "identificationModule.organization": "Organization",
    "identificationModule.orgStudyIdInfo": "Organization's study ID",
    "identificationModule.secondaryIdInfos": "Secondary IDs",
    "ipdSharingStatementModule.accessCriteria": "Data sharing: access criteria",
    "ipdSharingStatementModule.description": "Data sharing: plan",
    "ipdSharingStatementModule.infoTypes": "Data sharing: documents shared",
    "ipdSharingStatementModule.ipdSharing": "Data sharing: individual participant data shared",
    "ipdSharingStatementModule.timeFrame": "Data sharing: time frame",
    "ipdSharingStatementModule.url": "Data sharing: web address",
    "oversightModule.oversightHasDmc": "Data monitoring committee",
    "referencesModule.references": "References",
    "referencesModule.seeAlsoLinks": "Links",
    "statusModule.dispFirstPostDateStruct": "Certification or extension first posted",
    "statusModule.dispFirstSubmitDate": "Certification or extension first submitted",
    "statusModule.dispFirstSubmitQcDate": "Certification or extension first QC",
    "statusModule.expandedAccessInfo": "Expanded access",
    "statusModule.statusVerifiedDate": "Record verified",
}
# The keys of a registry object, as its labels name them (arms, interventions, outcomes,
# dates, organisations, references, design); others are named from their own words.
KEY_LABELS: Mapping[str, str] = {
    "label": "name",
    "name": "name",
    "measure": "measure",
    "type": "type",
    "description": "description",
    "timeFrame": "time frame",
    "interventionNames": "interventions",
    "armGroupLabels": "arms",
    "otherNames": "other names",
    "fullName": "name",
    "class": "class",
    "pmid": "PMID",
    "citation": "citation",
    "url": "web address",
    "hasExpandedAccess": "expanded access",
    "unpostedEvents": "events",
    "unpostedResponsibleParty": "responsible party",
    "interventionModelDescription": "intervention model description",
    "maskingInfo": "masking",
    "primaryPurpose": "primary purpose",
    "whoMasked": "who is masked",
}


def _words_of(name: str) -> str:
    """A registry key in words: "dispFirstPostDateStruct" → "disp first post date"."""
    bare = name.removesuffix("Struct").removesuffix("Module")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", bare).lower()


def _path_words(path: str) -> str:
    """A field no label names, in words: "oversightModule.isFdaRegulatedDrug" →
    "Oversight: is fda regulated drug"."""
    parts = [_words_of(p) for p in path.split(".") if p not in ("protocolSection", "")]
    head, *rest = parts or ["field"]
    return f"{head.capitalize()}: {' '.join(rest)}" if rest else head.capitalize()


def field_label(field: str) -> str:
    """A change's field as a person names it, never as a path."""
    path = field.removeprefix("protocolSection.")
    if path in OTHER_LABELS:
        return OTHER_LABELS[path]
    last = path.rsplit(".", 1)[-1]
    if FIELD_NAMES.get(last):
        return FIELD_NAMES[last]
    return _path_words(path)


def key_label(key: str) -> str:
    """A key of a registry object in words: "timeFrame" → "time frame"."""
    return KEY_LABELS.get(key) or _words_of(key)


def exact_value(value: JSON) -> str:
    """Any registry value as a coordinator reads it: codes and words as the registry spells
    them, a date "2026-02-20 (actual)", an organisation "BeiGene (INDUSTRY)", a reference by
    its citation, other objects as "key: value" pairs; never JSON."""
    if value is None or value == [] or value == "" or value == {}:
        return NONE
    if isinstance(value, list):
        joiner = "; " if any(isinstance(v, dict | list) for v in value) else ", "
        return joiner.join(exact_value(v) for v in value)
    if not isinstance(value, dict):
        return value_words(value)
    if "date" in value or "count" in value:
        return counted(value)
    if "fullName" in value:
        kind = value.get("class")
        return (
            f"{value_words(value['fullName'])} ({kind})" if kind else exact_value(value["fullName"])
        )
    if "citation" in value:
        pmid = value.get("pmid")
        return (
            f"{exact_value(value['citation'])} (PMID {pmid})"
            if pmid
            else exact_value(value["citation"])
        )
    if "label" in value and "url" in value:
        return f"{exact_value(value['label'])} ({exact_value(value['url'])})"
    if len(value) == 1:
        return exact_value(next(iter(value.values())))
    return "; ".join(f"{key_label(k)}: {exact_value(v)}" for k, v in sorted(value.items()))


def counted(value: JSON) -> str:
    """An enrollment as "120 estimated", a date as "2026-03 (estimated)"."""
    if not isinstance(value, dict):
        return value_words(value)
    kind = value.get("type")
    kind_text = str(kind).lower() if kind else ""
    if "count" in value:
        return " ".join(p for p in (value_words(value.get("count")), kind_text) if p)
    date = value_words(value.get("date"))
    return f"{date} ({kind_text})" if kind_text else date
