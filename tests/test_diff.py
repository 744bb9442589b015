"""The trial-aware diff over real version pairs: the right changes, and nothing else.

Every expectation below was checked against the two JSON files of its pair (a raw DeepDiff of
the protocol section plus an exact-address comparison of the site lists); where the diff
disagrees with a naive reading, the test next to it says why.
"""

# ruff: noqa: E501  (the expectation table keeps one change per line, like the README)
from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
from conftest import consecutive_versions, load_fixture

from watcher.core.canonical import canonical_json
from watcher.core.change import KIND_ORDER, Change, SiteRef
from watcher.core.diff import diff_trials
from watcher.core.record import parse_trial
from watcher.core.wording import format_changes, summarize_line

Row = tuple[str, str, Any, Any]


def _brief(value: Any) -> Any:
    """Items by their name and long texts by their start, so expectations stay readable."""
    if isinstance(value, dict):
        for key in ("label", "name", "measure"):
            if isinstance(value.get(key), str):
                return _brief(value[key])
        return {k: _brief(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_brief(v) for v in value]
    if isinstance(value, str) and len(value) > 60:
        return value[:60] + "…"
    return value


def summary(change: Change) -> Row:
    """(kind, site label or field, old, new); list-valued "other" fields as (removed, added)."""
    where = change.site.label() if change.site else change.field.removeprefix("protocolSection.")
    if change.kind == "other" and change.detail:
        return (
            change.kind,
            where,
            _brief(change.detail["removed"]),
            _brief(change.detail["added"]),
        )
    return (change.kind, where, _brief(change.old), _brief(change.new))


def tigit(nct: str, version: str) -> str:
    return f"{nct}__partrita-tigit__{version}.json"


def diff_files(old: str, new: str) -> list[Change]:
    return diff_trials(parse_trial(load_fixture(old)), parse_trial(load_fixture(new)))


# Every consecutive pair of the "Trials with several real versions" list in the fixture README,
# (NCT, older version, newer version) → the changes, in the order they come out.
# One row per line, so each pair reads like its README line.
# fmt: off
EXPECTED: dict[tuple[str, str, str], list[Row]] = {
    # README: annotation, derived.
    ("NCT04457778", "2026-02-03__91d8d988", "2026-02-11__afb21bfb"): [
        ("other", "annotationSection.annotationModule.unpostedAnnotation", {"unpostedEvents": [{"date": "2025-12-11", "type": "RELEASE"}, {"date": "2025-12-31", "type": "RESET"}], "unpostedResponsibleParty": "EMD Serono Research & Development Institute, Inc."}, {"unpostedEvents": [{"date": "2025-12-11", "type": "RELEASE"}, {"date": "2025-12-31", "type": "RESET"}, {"date": "2026-01-23", "type": "RELEASE"}, {"date": "2026-02-09", "type": "RESET"}], "unpostedResponsibleParty": "EMD Serono Research & Development Institute, Inc."}),
    ],
    # README: derived.
    ("NCT04457778", "2026-02-11__afb21bfb", "2026-03-04__11ee0e9d"): [],
    # README: derived, locations, update-dates. locations: 92 -> 56;
    ("NCT04736173", "2026-02-03__91d8d988", "2026-03-10__66773312"): [
        ("site_added", "Goztepe Prof. Dr. Suleyman Yalcin City Hospital, Kocaeli, Turkey (Türkiye)", None, None),
        ("site_added", "John B. Amos Cancer Center, Columbus, Georgia, United States", None, None),
        ("site_added", "Keimyung University, Daegu, South Korea", None, None),
        ("site_added", "Lumi Cancer Institute, Kingwood, Texas, United States", None, None),
        ("site_added", "Metro Davao Medical And Research Center Inc., Davao City, Philippines", None, None),
        ("site_added", "Oncology and Hematology Associates of Southwest Virginia, Inc., Blacksburg, Virginia, United States", None, None),
        ("site_added", "St Luke's Medical Center, Manila, Philippines", None, None),
        ("site_removed", "103 Military Hospital, Hanoi, Vietnam", None, None),
        ("site_removed", "Ajou University Hospital., Suwon, South Korea", None, None),
        ("site_removed", "Ankara City Hospital, Adana, Turkey (Türkiye)", None, None),
        ("site_removed", "Asan Medical Center, Seoul, South Korea", None, None),
        ("site_removed", "Cha University Bundang Medical Center, Seongnam, South Korea", None, None),
        ("site_removed", "Chang Gung Medical Foundation Kaohsiung, Kaohsiung City, Taiwan", None, None),
        ("site_removed", "Chong Hua Hospital, Cebu, Philippines", None, None),
        ("site_removed", "Chung Shan Medical University Hospital, Taichung, Taiwan", None, None),
        ("site_removed", "Dicle University, Medical faculty, Sur, Turkey (Türkiye)", None, None),
        ("site_removed", "Dong-A University Hospital, Busan, South Korea", None, None),
        ("site_removed", "Gachon University Gil Medical Center, Incheon, South Korea", None, None),
        ("site_removed", "Gangnam Severance Hospital Yonsei University Health System, Seoul, South Korea", None, None),
        ("site_removed", "Gazi University Medical Faculty, Çankaya, Turkey (Türkiye)", None, None),
        ("site_removed", "General Hospital of Patra Agios Andreas, Pátrai, Greece", None, None),
        ("site_removed", "General Oncology Hospital of Kifissia \" Agioi Anargyroi\", Kifissia, Greece", None, None),
        ("site_removed", "General hospital of Athens, chest diseases Sotiria, Athens, Greece", None, None),
        ("site_removed", "Goztepe Prof. Dr. Suleyman Yalcin City Hospital, Istanbul, Turkey (Türkiye)", None, None),
        ("site_removed", "Health Pharma Professional Research, Benito Juárez, Mexico", None, None),
        ("site_removed", "Hong Kong Integrated Oncology Centre, Hong Kong, Hong Kong", None, None),
        ("site_removed", "Hope and Healing Cancer Service, Hinsdale, Illinois, United States", None, None),
        ("site_removed", "Hospital Civil Fray Antonio Alcalde, Guadalajara, Mexico", None, None),
        ("site_removed", "Inha University Hospital, Incheon, South Korea", None, None),
        ("site_removed", "Jeonbuk National University Hospital, Jeonju, South Korea", None, None),
        ("site_removed", "Kangbuk Samsung Hospital, Seoul, South Korea", None, None),
        ("site_removed", "Kaohsiung Medical University Chung-Ho Memorial Hospital, Kaohsiung City, Taiwan", None, None),
        ("site_removed", "Keimyung University Dongsan Hospital, Daegu, South Korea", None, None),
        ("site_removed", "Kocaeli Universitiesi Tip Fakultesi, Kocaeli, Turkey (Türkiye)", None, None),
        ("site_removed", "Kosin University Gospel Hospital, Busan, South Korea", None, None),
        ("site_removed", "Makati Medical Centre, Manila, Philippines", None, None),
        ("site_removed", "Medipol University Medical Facility, Istanbul, Turkey (Türkiye)", None, None),
        ("site_removed", "Metro Davao Medical and Research Centre, Davao City, Philippines", None, None),
        ("site_removed", "Mount Miriam Cancer Hospital, Pulau Pinang, Malaysia", None, None),
        ("site_removed", "Naresuan University Hospital, Phitsanulok, Thailand", None, None),
        ("site_removed", "Port Elizabeth Oncology Centre-Cancercare, Port Elizabeth, South Africa", None, None),
        ("site_removed", "Princess Margaret Hospital, Hong Kong, Hong Kong", None, None),
        ("site_removed", "Pusan National University Yangsan Hospital, Yangsan, South Korea", None, None),
        ("site_removed", "Queen Mary Hospital, Hong Kong, Hong Kong", None, None),
        ("site_removed", "St. Luke Medical Centre Quezon City, Quezon City, Philippines", None, None),
        ("site_removed", "Taipei Medical University Hospital, Taipei, Taiwan", None, None),
        ("site_removed", "The Medical Oncology Centre of Rosebank, Johannesburg, South Africa", None, None),
        ("site_removed", "Udon Thani Hospital, Udon Thani, Thailand", None, None),
        ("site_removed", "University General Hospital \"Attikon\", Chaïdári, Greece", None, None),
        ("site_removed", "Wits Clinical Research CMJAH Clinical Trial Site, Johannesburg, South Africa", None, None),
    ],
    # README: status-dates, update-dates.
    ("NCT04743661", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2029-10-30", "type": "ESTIMATED"}, {"date": "2026-03-31", "type": "ESTIMATED"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2030-10-30", "type": "ESTIMATED"}, {"date": "2027-09-30", "type": "ESTIMATED"}),
    ],
    # README: contacts, ipdSharingStatementModule, locations, update-dates.
    ("NCT04895709", "2026-02-11__afb21bfb", "2026-02-26__0763c69c"): [
        ("site_status", "Local Institution - 0001, Portland, Oregon, United States", "COMPLETED", "ACTIVE_NOT_RECRUITING"),
        ("site_status", "Local Institution - 0062, Iowa City, Iowa, United States", "COMPLETED", "ACTIVE_NOT_RECRUITING"),
        ("contacts", "contactsLocationsModule.centralContacts", ["BMS Study Connect Contact Center www.BMSStudyConnect.com", "First line of the email MUST contain NCT # and Site #."], ["BMS Clinical Trials Contact Center www.BMSClinicalTrials.com", "First line of the email MUST contain NCT # and Site #."]),
        ("other", "ipdSharingStatementModule.accessCriteria", None, "See Plan Description"),
        ("other", "ipdSharingStatementModule.description", None, "BMS will provide access to individual anonymized participant…"),
        ("other", "ipdSharingStatementModule.infoTypes", None, ["STUDY_PROTOCOL", "SAP", "CSR"]),
        ("other", "ipdSharingStatementModule.ipdSharing", None, "YES"),
        ("other", "ipdSharingStatementModule.timeFrame", None, "See Plan Description"),
        ("other", "ipdSharingStatementModule.url", None, "https://www.bms.com/researchers-and-partners/clinical-trials…"),
    ],
    # README: referencesModule.
    ("NCT05009069", "2026-02-03__91d8d988", "2026-02-28__15569d0d"): [
        ("other", "referencesModule.references", None, [{"citation": "Tang W, Wu A, Lan P, Ding K, Wang Z, Wang J, Chen N, Wu X, J…", "pmid": "41529226", "type": "DERIVED"}]),
    ],
    # README: referencesModule.
    ("NCT05063149", "2026-02-05__62edf6a6", "2026-03-10__66773312"): [
        ("other", "referencesModule.references", [{"citation": "Jochems SP, de Ruiter K, Solorzano C, Voskamp A, Mitsi E, Ni…", "pmid": "31361601", "type": "BACKGROUND"}], [{"citation": "Jochems SP, de Ruiter K, Solorzano C, Voskamp A, Mitsi E, Ni…", "pmid": "31361601", "type": "BACKGROUND"}]),
    ],
    # README: locations, update-dates. locations: 68 -> 67;
    ("NCT05123482", "2026-02-03__91d8d988", "2026-02-16__2591e4c2"): [
        ("site_added", "Research Site, Taichung, Taiwan", None, "NOT_YET_RECRUITING"),
        ("site_removed", "Research Site, Sarasota, Florida, United States", "WITHDRAWN", None),
        ("site_removed", "Research Site, South Brisbane, Australia", "WITHDRAWN", None),
        ("site_status", "Research Site, Duarte, California, United States", "RECRUITING", "COMPLETED"),
        ("site_status", "Research Site, Irvine, California, United States", "RECRUITING", "COMPLETED"),
    ],
    # README: arms/interventions, descriptionModule, status-dates, update-dates.
    ("NCT05280470", "2026-02-05__62edf6a6", "2026-03-10__66773312"): [
        ("arms", "armsInterventionsModule.armGroups", "Ifinatamab Deruxtecan (12 mg/kg)", "Ifinatamab Deruxtecan (12 mg/kg)"),
        ("other", "descriptionModule.detailedDescription", "This study will consist of 2 parts: dose optimization (Part …", "This study will consist of 2 parts: dose optimization (Part …"),
        ("other", "statusModule.dispFirstPostDateStruct", None, {"date": "2026-02-20", "type": "ACTUAL"}),
        ("other", "statusModule.dispFirstSubmitDate", None, "2026-02-19"),
    ],
    # README: lastKnownStatus, overallStatus. overallStatus: NOT_YET_RECRUITING -> UNKNOWN;
    ("NCT05294952", "2026-02-03__91d8d988", "2026-03-03__8078b9f0"): [
        ("status", "statusModule.overallStatus", "NOT_YET_RECRUITING", "UNKNOWN"),
    ],
    # README: update-dates.
    ("NCT05329766", "2026-02-03__91d8d988", "2026-02-28__15569d0d"): [],
    # README: referencesModule.
    ("NCT05537740", "2026-02-04__9d3bbfc8", "2026-02-11__afb21bfb"): [
        ("other", "referencesModule.seeAlsoLinks", ["Click here to find information for studies related to Bayer …"], None),
    ],
    # README: locations, update-dates.
    ("NCT05537740", "2026-02-11__afb21bfb", "2026-02-24__baffa92a"): [
        ("site_added", "Clinica Universidad de Navarra | Madrid | Oncologia, Madrid, Spain", None, None),
        ("site_added", "Clinica Universidad de Navarra | Pamplona | Oncologia, Pamplona, Spain", None, None),
        ("site_removed", "Clinica Universidad De Navarra | Oncologia Medica, Madrid, Spain", None, None),
        ("site_removed", "Clinica Universidad De Navarra | Oncologia Medica, Pamplona, Spain", None, None),
    ],
    # README: locations, update-dates. locations: 205 -> 210;
    ("NCT05568095", "2026-02-03__91d8d988", "2026-03-05__33ee33f2"): [
        ("site_added", "1st Hosp of Jilin University, Changchun, China", None, None),
        ("site_added", "1st People's Hosp of Changzhou, Changzhou, China", None, None),
        ("site_added", "2nd hosp Anhui Med University, Hefei, China", None, None),
        ("site_added", "900 Hospital, Fuzhou, China", None, None),
        ("site_added", "Aichi Cancer Center, Nagoya, Japan", None, None),
    ],
    # README: update-dates.
    ("NCT05574335", "2026-02-03__91d8d988", "2026-02-12__9c89203a"): [],
    # README: locations, update-dates.
    ("NCT05581004", "2026-02-11__afb21bfb", "2026-02-18__40019a2c"): [
        ("site_added", "ICO Hospitalet- Hospital Duran i Reynals, L'Hospitalet de Llobregat, Spain", None, "RECRUITING"),
        ("site_removed", "ICO l?Hospitalet ? Hospital Duran i Reynals, L'Hospitalet de Llobregat, Spain", "RECRUITING", None),
        # The registry renamed the city, same zip 564 03: one site, not a removal and an addition
        # (before the reliability issue it was both).
        ("site_info", "Papageorgiou General Hospital of Thessaloniki, Pavlos Melas, Greece", {"city": "N. Efkapria-Pavlos Melas"}, {"city": "Pavlos Melas"}),
    ],
    # README: referencesModule.
    ("NCT05665595", "2026-02-03__91d8d988", "2026-02-19__e7d14b5f"): [
        ("other", "referencesModule.references", [], [{"citation": "Dummer R, Guo J, Luke JJ, Carlino MS, Schadendorf D, Khattak…", "pmid": "41698381", "type": "DERIVED"}]),
    ],
    # README: update-dates.
    ("NCT05775159", "2026-02-03__91d8d988", "2026-02-19__e7d14b5f"): [],
    # README: locations, status-dates, update-dates. locations: 44 -> 43;
    ("NCT05805501", "2026-02-03__91d8d988", "2026-02-16__2591e4c2"): [
        ("site_removed", "Asan Medical Center, Seoul, South Korea", None, None),
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2026-07-31", "type": "ESTIMATED"}, {"date": "2026-10-31", "type": "ESTIMATED"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2026-07-31", "type": "ESTIMATED"}, {"date": "2026-10-31", "type": "ESTIMATED"}),
    ],
    # README: enrollment, identificationModule, overallStatus, status-dates, update-dates, whyStopped. overallStatus: ACTIVE_NOT_RECRUITING -> TERMINATED; count: 263 -> 99;
    ("NCT05935098", "2026-02-04__9d3bbfc8", "2026-03-14__14b1b906"): [
        ("status", "statusModule.overallStatus", "ACTIVE_NOT_RECRUITING", "TERMINATED"),
        ("why_stopped", "statusModule.whyStopped", None, "This decision was conducted by the sponsor and not driven by…"),
        ("enrollment", "designModule.enrollmentInfo", {"count": 263, "type": "ESTIMATED"}, {"count": 99, "type": "ACTUAL"}),
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2027-03-31", "type": "ESTIMATED"}, {"date": "2026-01-27", "type": "ACTUAL"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2027-03-31", "type": "ESTIMATED"}, {"date": "2026-01-27", "type": "ACTUAL"}),
        ("other", "identificationModule.organization", {"class": "INDUSTRY", "fullName": "BeiGene"}, {"class": "INDUSTRY", "fullName": "BeOne Medicines"}),
    ],
    # README: locations, update-dates.
    ("NCT06203210", "2026-02-10__ed22b557", "2026-03-10__66773312"): [
        ("site_status", "National Cancer Center Hospital, Chūōku, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 11 -> 12;
    ("NCT06242470", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("site_added", "START-New York Long Island, Lake Success, New York, United States", None, "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 118 -> 119;
    ("NCT06330064", "2026-02-05__62edf6a6", "2026-02-16__2591e4c2"): [
        ("site_added", "SPZOZ Szpital Uniwer w Krakowie, Krakow, Poland", None, "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 2 -> 3;
    ("NCT06346197", "2026-02-03__91d8d988", "2026-03-03__8078b9f0"): [
        ("site_added", "CHU de Poitiers, Poitiers, France", None, "RECRUITING"),
    ],
    # README: locations, update-dates.
    ("NCT06362252", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("site_added", "CHU Nantes - Hôpital Guillaume et René Laënnec, Saint-Herblain, France", None, "RECRUITING"),
        ("site_added", "Hôpital Foch, Suresnes, France", None, "RECRUITING"),
        ("site_added", "Hôpital de la Timone, Marseille, France", None, "RECRUITING"),
        ("site_removed", "Assistance Publique-Hă\"Pitaux de Marseille, Marseille, France", "NOT_YET_RECRUITING", None),
        ("site_removed", "Chu Nantes - Hă\"Pital Guillaume Et Renă Laă<Nnec, Saint-Herblain, France", "NOT_YET_RECRUITING", None),
        ("site_removed", "Hă\"Pital Foch, Suresnes, France", "NOT_YET_RECRUITING", None),
        ("site_status", "Centre Léon Bérard, Lyon, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Chu Rennes - Hopital Pontchaillou, Rennes, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Henry Ford Hospital, Detroit, Michigan, United States", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("site_status", "Hopital Albert Calmette - Chu Lille, Lille, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hopital Tenon, Paris, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Alvaro Cunqueiro, Vigo, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Clinic de Barcelona, Barcelona, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital General Universitario Gregorio Marañon, Madrid, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Regional Universitario de Malaga, Málaga, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Universitari Vall D'Hebron, Barcelona, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Universitario 12 de Octubre, Madrid, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Universitario Ramon Y Cajal, Madrid, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Universitario Virgen Del Rocio, Seville, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Hospital Universitario Virgen Macarena, Seville, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "ICO l'Hospitalet - Hospital Duran i Reynals, L'Hospitalet de Llobregat, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Ico Girona - Hospital Universitari de Girona Dr Josep Trueta, Girona, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Institut Curie - Site de Paris, Paris, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Next Madrid, Madrid, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_contact", "Henry Ford Hospital, Detroit, Michigan, United States", ["Principal Investigator"], []),
    ],
    # README: status-dates, update-dates.
    ("NCT06612645", "2026-02-05__62edf6a6", "2026-03-10__66773312"): [
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2026-12-01", "type": "ESTIMATED"}, {"date": "2027-12-01", "type": "ESTIMATED"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2027-12-01", "type": "ESTIMATED"}, {"date": "2028-12-01", "type": "ESTIMATED"}),
    ],
    # README: locations, update-dates. locations: 281 -> 282;
    ("NCT06627647", "2026-02-03__91d8d988", "2026-02-16__2591e4c2"): [
        ("site_added", "Research Site, Kyoto, Japan", None, "NOT_YET_RECRUITING"),
        ("site_status", "Research Site, Boise, Idaho, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Fort Lauderdale, Florida, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kawasaki-shi, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kolkata, India", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Kumamoto, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, New Delhi, India", "RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, San Juan, Puerto Rico", "NOT_YET_RECRUITING", "SUSPENDED"),
    ],
    # README: status-dates, update-dates.
    ("NCT06646627", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2025-12", "type": "ESTIMATED"}, {"date": "2026-07", "type": "ESTIMATED"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2025-12", "type": "ESTIMATED"}, {"date": "2026-07", "type": "ESTIMATED"}),
    ],
    # README: locations, update-dates. locations: 298 -> 300;
    ("NCT06692738", "2026-02-03__91d8d988", "2026-02-26__0763c69c"): [
        ("site_added", "Research Site, Canton, Ohio, United States", None, "NOT_YET_RECRUITING"),
        ("site_added", "Research Site, Kyoto, Japan", None, "NOT_YET_RECRUITING"),
        ("site_status", "Research Site, Berlin, Germany", "SUSPENDED", "RECRUITING"),
        ("site_status", "Research Site, Giessen, Germany", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Hershey, Pennsylvania, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kawasaki-shi, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kolkata, India", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, New Delhi, India", "RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Ottignies, Belgium", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Puducherry, India", "NOT_YET_RECRUITING", "WITHDRAWN"),
    ],
    # README: contacts, enrollment, locations, overallStatus, status-dates, update-dates. overallStatus: RECRUITING -> ACTIVE_NOT_RECRUITING; count: 35 -> 4;
    ("NCT06754501", "2026-02-03__91d8d988", "2026-02-19__e7d14b5f"): [
        ("status", "statusModule.overallStatus", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("site_status", "The University of Texas M. D. Anderson Cancer Center, Houston, Texas, United States", "RECRUITING", None),
        ("site_contact", "The University of Texas M. D. Anderson Cancer Center, Houston, Texas, United States", ["Ryan Huey, MD", "Ryan Huey, MD"], []),
        ("enrollment", "designModule.enrollmentInfo", {"count": 35, "type": "ESTIMATED"}, {"count": 4, "type": "ACTUAL"}),
        ("contacts", "contactsLocationsModule.centralContacts", ["Ryan Huey, MD"], []),
        ("other", "statusModule.expandedAccessInfo", {"hasExpandedAccess": False}, None),
    ],
    # README: update-dates.
    ("NCT06780137", "2026-02-05__62edf6a6", "2026-02-11__afb21bfb"): [],
    # README: arms/interventions, designModule, eligibility, enrollment, locations, outcomesModule, referencesModule, status-dates, update-dates. count: 242 -> 262; locations: 39 -> 43;
    ("NCT06780137", "2026-02-11__afb21bfb", "2026-03-10__66773312"): [
        ("eligibility", "eligibilityModule.eligibilityCriteria", "History of (noninfectious) pneumonitis/interstitial lung dis…", "History of interstitial lung disease (ILD)/pneumonitis irres…"),
        ("site_added", "Hospital Universitario Austral ( Site 2204), Pilar, Argentina", None, "RECRUITING"),
        ("site_added", "Pontificia Universidad Catolica de Chile ( Site 2102), Santiago, Chile", None, "RECRUITING"),
        ("site_added", "Sanatorio Parque ( Site 2203), Rosario, Argentina", None, "RECRUITING"),
        ("site_added", "Severance Hospital, Yonsei University Health System ( Site 5102), Seodaemun-gu, South Korea", None, "RECRUITING"),
        ("site_contact", "Dana Farber Cancer Institute ( Site 1105), Boston, Massachusetts, United States", ["Study Coordinator"], ["Study Coordinator"]),
        ("enrollment", "designModule.enrollmentInfo", {"count": 242, "type": "ESTIMATED"}, {"count": 262, "type": "ESTIMATED"}),
        ("dates", "statusModule.completionDateStruct", {"date": "2030-02-14", "type": "ESTIMATED"}, {"date": "2030-01-17", "type": "ESTIMATED"}),
        ("interventions", "armsInterventionsModule.interventions", "Gocatamig", "Gocatamig"),
        ("arms", "armsInterventionsModule.armGroups", None, "Part 2 Arm 8: Gocatamig (Alternate Presentation)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Part 1, Part 2 (Arm 5 and Arm 6), and Part 3 (Arm 7): Durati…", "Part 1, Part 2 (Arm 5, Arm 6, and Arm 8), and Part 3 (Arm 7)…"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Part 1, Part 2 (Arm 6), and Part 3 (Arm 7): Progression-Free…", "Part 1, Part 2 (Arm 6 and Arm 8), and Part 3 (Arm 7): Progre…"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Part 2 (Arm 5 and Arm 6) and Part 3 (Arm 7): ORR", "Part 2 (Arm 5, Arm 6, and Arm 8) and Part 3 (Arm 7): ORR"),
        ("other", "designModule.designInfo", {"allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "interventionModelDescription": "Part 1 consists of four arms (gocatamig and I-DXd at differe…", "maskingInfo": {"masking": "NONE"}, "primaryPurpose": "TREATMENT"}, {"allocation": "RANDOMIZED", "interventionModel": "PARALLEL", "interventionModelDescription": "Part 1 consists of four arms (gocatamig and I-DXd at differe…", "maskingInfo": {"masking": "NONE"}, "primaryPurpose": "TREATMENT"}),
        ("other", "referencesModule.seeAlsoLinks", [], ["Plain Language Summary"]),
    ],
    # README: locations, update-dates. locations: 5 -> 8;
    ("NCT06819735", "2026-02-11__afb21bfb", "2026-03-11__a714e50c"): [
        ("site_added", "Hôpitaux Universitaires de Strasbourg, Strasbourg, France", None, "RECRUITING"),
        ("site_added", "Institut Bergonié, Bordeaux, France", None, "NOT_YET_RECRUITING"),
        ("site_added", "Institut Gustave Roussy, Villejuif, France", None, "RECRUITING"),
    ],
    # README: locations.
    ("NCT06825494", "2026-02-11__afb21bfb", "2026-03-14__14b1b906"): [],
    # README: locations, update-dates. locations: 38 -> 45;
    ("NCT06892548", "2026-02-05__62edf6a6", "2026-02-12__9c89203a"): [
        ("site_added", "Shanghai GoBroad Cancer Hospital, Shanghai, China", None, "RECRUITING"),
        ("site_added", "St John of God Subiaco Hospital, Subiaco, Australia", None, "RECRUITING"),
        ("site_added", "Taipei Veterans General Hospital, Taipei, Taiwan", None, "RECRUITING"),
        ("site_added", "Texas Oncology - DFW, Dallas, Texas, United States", None, "RECRUITING"),
        ("site_added", "UCLA - David Geffen School of Medicine, Santa Monica, California, United States", None, "RECRUITING"),
        ("site_added", "University of Iowa Hospitals & Clinics PARENT, Iowa City, Iowa, United States", None, "RECRUITING"),
        ("site_added", "Zhejiang Cancer Hospital, Hangzhou, China", None, "RECRUITING"),
    ],
    # README: locations, overallStatus, status-dates, update-dates. overallStatus: NOT_YET_RECRUITING -> RECRUITING; locations: 0 -> 1;
    ("NCT06911827", "2026-02-11__afb21bfb", "2026-02-26__0763c69c"): [
        ("status", "statusModule.overallStatus", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_added", "Sun Yat-sen University Cancer Center, Guangzhou, China", None, "RECRUITING"),
        ("dates", "statusModule.startDateStruct", {"date": "2025-04", "type": "ESTIMATED"}, {"date": "2025-05-09", "type": "ACTUAL"}),
    ],
    # README: locations, status-dates, update-dates. locations: 30 -> 37;
    ("NCT06953089", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("site_added", "USA09-0, Puyallup, Washington, United States", None, "RECRUITING"),
        ("site_added", "USA10-0, Atlanta, Georgia, United States", None, "RECRUITING"),
        ("site_added", "USA11-0, Bethesda, Maryland, United States", None, "RECRUITING"),
        ("site_added", "USA12-0, Houston, Texas, United States", None, "RECRUITING"),
        ("site_added", "USA13-0, Anderson, Texas, United States", None, "RECRUITING"),
        ("site_added", "USA14-0, Lincoln, Nebraska, United States", None, "RECRUITING"),
        ("site_added", "USA15-0, Portland, Oregon, United States", None, "RECRUITING"),
        ("site_added", "USA16-0, Los Angeles, California, United States", None, "RECRUITING"),
        ("site_removed", "USA02-0, Pittsburgh, Pennsylvania, United States", "RECRUITING", None),
        ("other", "statusModule.expandedAccessInfo", {"hasExpandedAccess": False}, None),
    ],
    # README: locations, update-dates. locations: 247 -> 248;
    ("NCT06989112", "2026-02-03__91d8d988", "2026-02-11__afb21bfb"): [
        ("site_added", "Research Site, Ghent, Belgium", None, "RECRUITING"),
        ("site_added", "Research Site, Madison, Wisconsin, United States", None, "NOT_YET_RECRUITING"),
        ("site_removed", "Research Site, Madison, Wisconsin, United States", "NOT_YET_RECRUITING", None),
        ("site_status", "Research Site, Kashiwa-shi, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Leuven, Belgium", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Northwood, United Kingdom", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Osaka, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Porto Alegre, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Providence, Rhode Island, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Rio de Janeiro, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Salvador, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Shenyang, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Tampa, Florida, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Toulouse, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Valencia, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 248 -> 249;
    ("NCT06989112", "2026-02-11__afb21bfb", "2026-03-13__20310849"): [
        ("site_added", "Research Site, Irvine, California, United States", None, "NOT_YET_RECRUITING"),
        ("site_status", "Research Site, Baltimore, Maryland, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Barretos, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Besançon, France", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Boston, Massachusetts, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Brussels, Belgium", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Caen, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Evanston, Illinois, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Fuzhou, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Houston, Texas, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, L'Hospitalet de Llobregat, Spain", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Leeds, United Kingdom", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Liestal, Switzerland", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Linköping, Sweden", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, London, United Kingdom", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Lyon, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Marburg, Germany", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Milan, Italy", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Montpellier, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Napoli, Italy", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Paris, France", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Pittsburgh, Pennsylvania, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, San Francisco, California, United States", "NOT_YET_RECRUITING", "SUSPENDED"),
        ("site_status", "Research Site, Sankt Gallen, Switzerland", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Siedlce, Poland", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, St Louis, Missouri, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Stockholm, Sweden", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, São Paulo, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Turin, Italy", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Uppsala, Sweden", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 104 -> 105;
    ("NCT06996782", "2026-02-03__91d8d988", "2026-02-25__2cb20dd2"): [
        ("site_added", "Research Site, Belgrade, Serbia", None, "WITHDRAWN"),
        ("site_status", "Research Site, Oldenburg, Germany", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Providence, Rhode Island, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Providence, Rhode Island, United States", "NOT_YET_RECRUITING", "WITHDRAWN"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: arms/interventions, descriptionModule, locations, outcomesModule, status-dates, update-dates. locations: 57 -> 63;
    ("NCT07098338", "2026-02-03__91d8d988", "2026-02-10__ed22b557"): [
        ("site_added", "Research Site, Fukuyama-shi, Japan", None, "RECRUITING"),
        ("site_added", "Research Site, Hefei, China", None, "RECRUITING"),
        ("site_added", "Research Site, Kyoto, Japan", None, "RECRUITING"),
        ("site_added", "Research Site, Singapore, Singapore", None, "RECRUITING"),
        ("site_added", "Research Site, Taichung, Taiwan", None, "RECRUITING"),
        ("site_added", "Research Site, Tainan, Taiwan", None, "RECRUITING"),
        ("site_status", "Research Site, Chengdu, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Cheongju-si, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Deyang, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Dongguan, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Guangzhou, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Hangzhou, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kobe, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kurume-shi, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Linyi, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Liuying, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Namdong-gu, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Nanchang, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Sakaishi, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Shinjuku-ku, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Singapore, Singapore", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Suwon, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Tainan, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Taipei, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Taipei, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Wakayama, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Zhuhai, China", "NOT_YET_RECRUITING", "RECRUITING"),
        ("dates", "statusModule.primaryCompletionDateStruct", {"date": "2027-03-21", "type": "ESTIMATED"}, {"date": "2029-04-06", "type": "ESTIMATED"}),
        ("interventions", "armsInterventionsModule.interventions", "Dato-DXd", "Dato-DXd"),
        ("interventions", "armsInterventionsModule.interventions", "Ramucirumab", "Ramucirumab"),
        ("interventions", "armsInterventionsModule.interventions", "Rilvegostomig", "Rilvegostomig"),
        ("arms", "armsInterventionsModule.armGroups", "Sub-study 1, investigate rilvegostomig± ramucirumab in 1L no…", "Sub-study 1, investigate rilvegostomig± ramucirumab in 1L no…"),
        ("arms", "armsInterventionsModule.armGroups", "Sub-study 2, investigate rilvegostomig + ramucirumab in 1L n…", "Sub-study 2, investigate rilvegostomig + ramucirumab in 1L n…"),
        ("arms", "armsInterventionsModule.armGroups", "Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegosto…", "Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegosto…"),
        ("outcomes", "outcomesModule.primaryOutcomes", "Objective response rate (ORR)", "Objective response rate (ORR)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Progression free survival (PFS)", "Progression free survival (PFS)"),
        ("other", "descriptionModule.detailedDescription", "The master protocol will include 3 sub-studies, each focused…", "The master protocol will include 3 sub-studies, each focused…"),
    ],
    # README: locations, update-dates.
    ("NCT07115043", "2026-02-03__91d8d988", "2026-02-10__ed22b557"): [
        ("site_status", "Research Site, Houston, Texas, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, St Louis, Missouri, United States", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 10 -> 11;
    ("NCT07161414", "2026-02-03__91d8d988", "2026-02-24__baffa92a"): [
        ("site_added", "Research Site, Seoul, South Korea", None, "NOT_YET_RECRUITING"),
        ("site_status", "Research Site, Newcastle upon Tyne, United Kingdom", "NOT_YET_RECRUITING", "SUSPENDED"),
        ("site_status", "Research Site, Sutton, United Kingdom", "NOT_YET_RECRUITING", "SUSPENDED"),
    ],
    # README: locations, update-dates.
    ("NCT07205718", "2026-02-04__9d3bbfc8", "2026-02-10__ed22b557"): [
        ("site_status", "Barbara Ann Karmanos Cancer Institute, Detroit, Michigan, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Florida Cancer Specialists - Lake Nona, Orlando, Florida, United States", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "SCRI Oncology, Nashville, Tennessee, United States", "NOT_YET_RECRUITING", "RECRUITING"),
    ],
    # README: locations, update-dates. locations: 162 -> 165;
    ("NCT07221253", "2026-02-03__91d8d988", "2026-02-11__afb21bfb"): [
        ("site_added", "Research Site, Birmingham, United Kingdom", None, "NOT_YET_RECRUITING"),
        ("site_added", "Research Site, New Haven, Connecticut, United States", None, "NOT_YET_RECRUITING"),
        ("site_added", "Research Site, Shanghai, China", None, "NOT_YET_RECRUITING"),
        ("site_status", "Research Site, Barretos, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Changsha, China", "NOT_YET_RECRUITING", "SUSPENDED"),
        ("site_status", "Research Site, Chiang Mai, Thailand", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Chiba, Japan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Darlinghurst, Australia", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Kaohsiung City, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Natal, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Seoul, South Korea", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, São Paulo, Brazil", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Taichung, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Taipei, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "Research Site, Taoyuan District, Taiwan", "NOT_YET_RECRUITING", "RECRUITING"),
        # Lichtenberg → Berlin, same zip 10365, geocode moved 6 km: one site renamed by the registry
        # (before the reliability issue: "Berlin" added and "Lichtenberg" removed).
        ("site_info", "Research Site, Berlin, Germany", {"city": "Lichtenberg"}, {"city": "Berlin"}),
    ],
    # README: status-dates, update-dates.
    ("NCT07222735", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("dates", "statusModule.startDateStruct", {"date": "2025-12-05", "type": "ESTIMATED"}, {"date": "2026-01-21", "type": "ACTUAL"}),
    ],
    # README: arms/interventions, contacts, eligibility, locations, outcomesModule, overallStatus, referencesModule, status-dates, update-dates. overallStatus: NOT_YET_RECRUITING -> RECRUITING; locations: 0 -> 2;
    ("NCT07227597", "2026-02-05__62edf6a6", "2026-03-10__66773312"): [
        ("status", "statusModule.overallStatus", "NOT_YET_RECRUITING", "RECRUITING"),
        ("eligibility", "eligibilityModule.eligibilityCriteria", "Has history of (noninfectious) pneumonitis/interstitial lung…", "Has any history of interstitial lung disease (ILD)/pneumonit…"),
        ("eligibility", "eligibilityModule.eligibilityCriteria", "Has major surgery within 4 weeks or minor surgery within 2 w…", "Has major surgery within 4 weeks or minor surgery within 2 w…"),
        ("site_added", "Rambam Health Care Campus ( Site 0602), Haifa, Israel", None, "RECRUITING"),
        ("site_added", "Sheba Medical Center ( Site 0601), Ramat Gan, Israel", None, "RECRUITING"),
        ("dates", "statusModule.startDateStruct", {"date": "2026-01-14", "type": "ESTIMATED"}, {"date": "2026-01-29", "type": "ACTUAL"}),
        ("arms", "armsInterventionsModule.armGroups", "Arm 1, Parts A and B: Gocataming + I-DXd", "Arm 1, Parts A and B: Gocataming + I-DXd"),
        ("arms", "armsInterventionsModule.armGroups", "Arm 2, Parts A and B: Gocataming + I-DXd", "Arm 2, Parts A and B: Gocataming + I-DXd"),
        ("arms", "armsInterventionsModule.armGroups", "Arm 3, Part B: Gocataming + I-DXd → gocatamig + atezolizumab", "Arm 3, Part B: Gocataming + I-DXd → gocatamig + atezolizumab"),
        ("outcomes", "outcomesModule.primaryOutcomes", "Number of Participants Who Discontinue Study Intervention Du…", "Number of Participants Who Discontinue Study Intervention Du…"),
        ("outcomes", "outcomesModule.primaryOutcomes", "Number of Participants Who Experience an Adverse Event (AE)", "Number of Participants Who Experience an Adverse Event (AE)"),
        ("outcomes", "outcomesModule.primaryOutcomes", "Objective Response Rate (ORR)", "Objective Response Rate (ORR)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt of Anti-B7-H3 Antibody", "AUCt of Anti-B7-H3 Antibody"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt of Deruxtecan (DXd)", "AUCt of Deruxtecan (DXd)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt of I-DXd", "AUCt of I-DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt,ss of Anti-B7-H3 Antibody", "AUCt,ss of Anti-B7-H3 Antibody"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt,ss of DXd", "AUCt,ss of DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "AUCt,ss of I-DXd", "AUCt,ss of I-DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Area Under the Concentration-Time Curve Over the Dosing Inte…", "Area Under the Concentration-Time Curve Over the Dosing Inte…"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Area Under the Steady-State Concentration-Time Curve Over th…", "Area Under the Steady-State Concentration-Time Curve Over th…"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Cmax of Anti-B7-H3 Antibody", "Cmax of Anti-B7-H3 Antibody"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Cmax of DXd", "Cmax of DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Cmax of I-DXd", "Cmax of I-DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Ctrough of Anti-B7-H3 Antibody", "Ctrough of Anti-B7-H3 Antibody"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Ctrough of DXd", "Ctrough of DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Ctrough of I-DXd", "Ctrough of I-DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Disease Control Rate (DCR)", "Disease Control Rate (DCR)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Duration of Response (DOR)", "Duration of Response (DOR)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Incidence of ADAs Against I-DXd", "Incidence of ADAs Against I-DXd"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Incidence of Anti-Drug Antibodies (ADAs) Against Gocatamig", "Incidence of Anti-Drug Antibodies (ADAs) Against Gocatamig"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Maximum Concentration (Cmax) of Gocatamig", "Maximum Concentration (Cmax) of Gocatamig"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Overall Survival (OS)", "Overall Survival (OS)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Progression-Free Survival (PFS)", "Progression-Free Survival (PFS)"),
        ("outcomes", "outcomesModule.secondaryOutcomes", "Trough Concentration (Ctrough) of Gocatamig", "Trough Concentration (Ctrough) of Gocatamig"),
        ("contacts", "contactsLocationsModule.centralContacts", [], ["Toll Free Number"]),
        ("other", "referencesModule.seeAlsoLinks", [], ["Plain Language Summary"]),
    ],
    # README: locations, overallStatus, status-dates, update-dates. overallStatus: NOT_YET_RECRUITING -> RECRUITING;
    ("NCT07268053", "2026-02-05__62edf6a6", "2026-03-10__66773312"): [
        ("status", "statusModule.overallStatus", "NOT_YET_RECRUITING", "RECRUITING"),
        ("site_status", "St. Joseph's Hospital and Medical Center, Phoenix, Arizona, United States", None, "RECRUITING"),
        ("dates", "statusModule.startDateStruct", {"date": "2026-01", "type": "ESTIMATED"}, {"date": "2026-02-11", "type": "ACTUAL"}),
    ],
    # README: identificationModule, update-dates.
    ("NCT07386002", "2026-02-05__62edf6a6", "2026-02-10__ed22b557"): [
        ("title", "identificationModule.briefTitle", "A Phase II Study of Intracerebroventricular MT027 in Recurre…", "Study of Intracerebroventricular MT027 in Recurrent or Progr…"),
    ],
    # README: identificationModule, update-dates.
    ("NCT07386002", "2026-02-10__ed22b557", "2026-02-11__afb21bfb"): [
        ("title", "identificationModule.briefTitle", "Study of Intracerebroventricular MT027 in Recurrent or Progr…", "The GLIOMAX Study: MT027 Allogeneic CAR-T for Recurrent Glio…"),
        ("other", "identificationModule.acronym", None, "GLIOMAX-101"),
    ],
}
# fmt: on


# Too many site changes to list: every one of 230 sites gained a status (and 218 a contact)
# when the trial reopened. Counted by (kind, old, new); the other changes are listed.
REOPENED = ("NCT06203210", "2026-02-05__62edf6a6", "2026-02-10__ed22b557")
REOPENED_SITE_CHANGES = {
    ("site_status", None, "NOT_YET_RECRUITING"): 54,
    ("site_status", None, "RECRUITING"): 176,
    ("site_contact", (), (("name", "Principal Investigator"), ("role", "CONTACT"))): 218,
}

# Versions of one trial that differ only in housekeeping, and what differs in the raw files.
HOUSEKEEPING_ONLY = [
    ("NCT05574335", "2026-02-03__91d8d988", "2026-02-12__9c89203a", "lastUpdatePostDateStruct"),
    ("NCT05329766", "2026-02-03__91d8d988", "2026-02-28__15569d0d", "lastUpdatePostDateStruct"),
    ("NCT05775159", "2026-02-03__91d8d988", "2026-02-19__e7d14b5f", "lastUpdatePostDateStruct"),
    ("NCT06780137", "2026-02-05__62edf6a6", "2026-02-11__afb21bfb", "lastUpdatePostDateStruct"),
    ("NCT04457778", "2026-02-11__afb21bfb", "2026-03-04__11ee0e9d", "versionHolder"),
    # Only a site's geoPoint moved: the registry re-geocoded it, nobody submitted anything.
    ("NCT06825494", "2026-02-11__afb21bfb", "2026-03-14__14b1b906", "geoPoint"),
]

CTRDATA = [(old.name, new.name) for old, new in consecutive_versions() if "ctrdata" in old.name]


def test_every_recorded_version_pair_has_an_expectation() -> None:
    """No consecutive pair of recorded versions escapes these tests."""
    on_disk = {(old.name, new.name) for old, new in consecutive_versions()}
    expected = {(tigit(n, a), tigit(n, b)) for n, a, b in [*EXPECTED, REOPENED]}
    assert on_disk == expected | set(CTRDATA)
    assert len(CTRDATA) == 11


@pytest.mark.parametrize("pair", list(EXPECTED), ids=lambda p: f"{p[0]}-{p[1][:10]}")
def test_real_version_pair_gives_exactly_the_expected_changes(pair: tuple[str, str, str]) -> None:
    """Each real pair of versions reports its changes, in order, and nothing else."""
    nct, old, new = pair
    assert [summary(c) for c in diff_files(tigit(nct, old), tigit(nct, new))] == EXPECTED[pair]


def test_a_reopened_trial_reports_every_site_that_reopened() -> None:
    """NCT06203210 reopening: the status change, new criteria, contacts and 230 site statuses."""
    nct, old, new = REOPENED
    changes = diff_files(tigit(nct, old), tigit(nct, new))
    sites = Counter(
        (c.kind, c.old if c.kind == "site_status" else (), c.new)
        if c.kind == "site_status"
        else (c.kind, (), tuple(sorted(c.new[0].items())))  # type: ignore[index, union-attr]
        for c in changes
        if c.kind.startswith("site_")
    )
    assert sites == REOPENED_SITE_CHANGES
    others = [summary(c) for c in changes if not c.kind.startswith("site_")]
    assert [row[0] for row in others] == ["status", "eligibility", "eligibility", "contacts"]
    assert others[0] == (
        "status",
        "statusModule.overallStatus",
        "ACTIVE_NOT_RECRUITING",
        "RECRUITING",
    )
    assert others[-1] == (
        "contacts",
        "contactsLocationsModule.centralContacts",
        [],
        ["Daiichi Sankyo Contact for Clinical Trial Information"],
    )


def test_a_reworded_criterion_is_one_change_and_a_new_note_is_added_under_it() -> None:
    """Exclusion 8 of NCT06203210 was rewritten in place and gained a note: two changes."""
    nct, old, new = REOPENED
    reworded, note = [
        c for c in diff_files(tigit(nct, old), tigit(nct, new)) if c.kind == "eligibility"
    ]
    intro = "Participants who meet any of the following criteria will be disqualified from entering the study:"
    assert reworded.old == (
        "Has history of (non-infectious) interstitial lung disease (ILD)/pneumonitis that required "
        "corticosteroids, current ILD/pneumonitis, or suspected ILD/pneumonitis that cannot be "
        "ruled out by imaging at Screening."
    )
    assert isinstance(reworded.new, str)
    assert reworded.new.startswith("Has any history of ILD/pneumonitis irrespective of steroid use")
    assert reworded.detail == {"section": "exclusion", "parent": intro}
    assert note.old is None
    assert isinstance(note.new, str)
    assert note.new.startswith("Examples of suspected ILD/pneumonitis by imaging include")
    assert note.detail == {"section": "exclusion", "parent": reworded.new}
    assert note.severity == "major"


@pytest.mark.parametrize("case", HOUSEKEEPING_ONLY, ids=lambda c: c[0])
def test_housekeeping_only_versions_are_no_change(case: tuple[str, str, str, str]) -> None:
    """Moved update stamps, a new versionHolder or re-geocoded sites report nothing."""
    nct, old, new, moved = case
    raw_old = load_fixture(tigit(nct, old))
    raw_new = load_fixture(tigit(nct, new))
    assert raw_old != raw_new
    assert canonical_json(raw_old).count(moved) >= 1
    assert diff_files(tigit(nct, old), tigit(nct, new)) == []


@pytest.mark.parametrize("pair", CTRDATA, ids=lambda p: p[0][:11] + p[0][29:40])
def test_registry_releases_without_submissions_are_no_change(pair: tuple[str, str]) -> None:
    """Renumbered MeSH leaves, modelPredictions and ctrdata's own keys report nothing."""
    old, new = pair
    assert load_fixture(old) != load_fixture(new)
    assert diff_files(old, new) == []


def test_mesh_renumbering_release_is_really_different_underneath() -> None:
    """NCT01505608 2023-12 → 2024-05 differs in MeSH leaves, modelPredictions and stamps only."""
    old = load_fixture("NCT01505608__ctrdata-demo-sqlite__2023-12-03__1f22b10a.json")
    new = load_fixture("NCT01505608__ctrdata-demo-sqlite__2024-05-16__b195accc.json")
    leaves = "conditionBrowseModule"
    assert old["derivedSection"][leaves] != new["derivedSection"][leaves]
    assert "modelPredictions" in old["derivedSection"]["miscInfoModule"]
    assert "modelPredictions" not in new["derivedSection"]["miscInfoModule"]
    stamps = ("statusVerifiedDate", "lastUpdateSubmitDate", "lastUpdatePostDateStruct")
    for raw in (old, new):
        for stamp in stamps:
            del raw["protocolSection"]["statusModule"][stamp]
    assert old["protocolSection"] == new["protocolSection"]


def test_values_are_whole_json_objects() -> None:
    """Enrollment, dates and reasons come as plain JSON values, count and type together."""
    changes = diff_files(
        tigit("NCT05935098", "2026-02-04__9d3bbfc8"), tigit("NCT05935098", "2026-03-14__14b1b906")
    )
    by_kind = {c.kind: c for c in reversed(changes)}  # the first change of each kind
    assert by_kind["enrollment"].old == {"count": 263, "type": "ESTIMATED"}
    assert by_kind["enrollment"].new == {"count": 99, "type": "ACTUAL"}
    assert by_kind["why_stopped"].new == (
        "This decision was conducted by the sponsor and not driven by safety concerns as no new "
        "safety signals have been observed in the CCR8 program."
    )
    assert by_kind["dates"].field == "protocolSection.statusModule.primaryCompletionDateStruct"
    assert by_kind["dates"].new == {"date": "2026-01-27", "type": "ACTUAL"}


def test_an_edited_arm_is_one_change_with_both_versions() -> None:
    """An arm whose description changed is one change holding the old and the new arm."""
    old_name = tigit("NCT05280470", "2026-02-05__62edf6a6")
    new_name = tigit("NCT05280470", "2026-03-10__66773312")
    (arm,) = [c for c in diff_files(old_name, new_name) if c.kind == "arms"]
    arms = "armsInterventionsModule"
    assert arm.old == load_fixture(old_name)["protocolSection"][arms]["armGroups"][1]
    assert arm.new == load_fixture(new_name)["protocolSection"][arms]["armGroups"][1]
    assert arm.field == "protocolSection.armsInterventionsModule.armGroups"


def test_a_renamed_arm_is_one_change_not_two() -> None:
    """NCT07098338's "2L" → "2/3L" arm label is an edit of that arm, as are the outcomes' edits."""
    changes = diff_files(
        tigit("NCT07098338", "2026-02-03__91d8d988"), tigit("NCT07098338", "2026-02-10__ed22b557")
    )
    arms = [c for c in changes if c.kind == "arms"]
    assert all(c.old is not None and c.new is not None for c in arms)
    labels = [(c.old["label"], c.new["label"]) for c in arms]  # type: ignore[call-overload, index]
    assert [(was, now) for was, now in labels if was != now] == [
        (
            "Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegostomig in 2L AGA+ NSCLC",
            "Sub-study 3, investigate Dato-DXd + ramucirumab ± rilvegostomig in 2/3L AGA+ NSCLC",
        )
    ]


def test_unknown_status_carries_the_last_known_status() -> None:
    """A trial gone UNKNOWN says what it was last known to be doing."""
    (change,) = diff_files(
        tigit("NCT05294952", "2026-02-03__91d8d988"), tigit("NCT05294952", "2026-03-03__8078b9f0")
    )
    assert (change.kind, change.old, change.new) == ("status", "NOT_YET_RECRUITING", "UNKNOWN")
    assert change.detail == {"last_known_status": "NOT_YET_RECRUITING"}
    assert change.severity == "major"


def test_site_changes_name_their_site() -> None:
    """A site change carries the site's address as an object, every part present."""
    changes = diff_files(
        tigit("NCT05123482", "2026-02-03__91d8d988"), tigit("NCT05123482", "2026-02-16__2591e4c2")
    )
    added = changes[0].to_dict()
    assert added == {
        "kind": "site_added",
        "field": "protocolSection.contactsLocationsModule.locations",
        "old": None,
        "new": "NOT_YET_RECRUITING",
        "severity": "major",
        "site": {
            "facility": "Research Site",
            "city": "Taichung",
            "state": None,
            "zip": "40705",
            "country": "Taiwan",
            "geo": {"lat": 24.1469, "lon": 120.6839},
        },
    }


def test_a_site_whose_state_was_filled_in_is_the_same_site() -> None:
    """NCT06892548: four Chinese sites gained a state; only the seven new sites are reported."""
    changes = diff_files(
        tigit("NCT06892548", "2026-02-05__62edf6a6"), tigit("NCT06892548", "2026-02-12__9c89203a")
    )
    assert [c.kind for c in changes] == ["site_added"] * 7
    assert "Beijing Cancer Hospital, Beijing, China" not in [summary(c)[1] for c in changes]


def _all_real_changes() -> list[Change]:
    return [
        change
        for old, new in consecutive_versions()
        for change in diff_trials(
            parse_trial(load_fixture(old.name)), parse_trial(load_fixture(new.name))
        )
    ]


@pytest.mark.slow
def test_every_real_change_survives_a_round_trip_through_json() -> None:
    """What the store saves (to_dict as JSON) loads back as the very same change."""
    changes = _all_real_changes()
    assert len(changes) > 700  # the real pairs give about 800
    for change in changes:
        data = json.loads(json.dumps(change.to_dict(), allow_nan=False))
        assert Change.from_dict(data) == change
        assert {"kind", "field", "old", "new", "severity"} <= set(data)
        assert ("site" in data) == change.kind.startswith("site_")


@pytest.mark.slow
def test_severity_follows_the_policy() -> None:
    """Joining-related kinds are major, other named kinds minor, the remainder info.

    A site renamed by the registry (`site_info`, new with the reliability issue) is info too.
    """
    major = {"status", "why_stopped", "eligibility", "age_sex", "site_added", "site_removed"}
    major |= {"site_status", "results_posted"}
    info = {"site_info", "other"}
    for change in _all_real_changes():
        expected = "major" if change.kind in major else "info" if change.kind in info else "minor"
        assert change.severity == expected, change.kind


@pytest.mark.slow
def test_changes_come_most_important_kind_first() -> None:
    """Status first, then why stopped, eligibility, age/sex, sites, enrollment, dates…, other last."""
    assert KIND_ORDER[:10] == (
        "status",
        "why_stopped",
        "eligibility",
        "age_sex",
        "site_added",
        "site_removed",
        "site_status",
        "site_contact",
        "enrollment",
        "dates",
    )
    assert KIND_ORDER[-1] == "other"
    for old, new in consecutive_versions():
        kinds = [c.kind for c in diff_files(old.name, new.name)]
        assert kinds == sorted(kinds, key=KIND_ORDER.index)


# -- edits made to real records ---------------------------------------------------------------

NCT02576665 = "NCT02576665__biomcp-capture-fields-subset.json"  # criteria full of \\[ \\< \\>


def _edited(name: str, edit: Any) -> tuple[Any, Any]:
    raw = load_fixture(name)
    changed = copy.deepcopy(raw)
    edit(changed["protocolSection"])
    return parse_trial(raw), parse_trial(changed)


def test_reordered_sites_are_no_change() -> None:
    """The registry reshuffling a 437-site list is not a change."""
    old, new = _edited(
        "NCT02513394__mcode-ctms-spec-data.json",
        lambda p: p["contactsLocationsModule"]["locations"].reverse(),
    )
    assert old.sites != new.sites
    assert diff_trials(old, new) == []


def test_a_site_closing_is_one_site_status_change() -> None:
    """A matched site whose status changed is one site_status change naming it."""

    def close_first(protocol: Any) -> None:
        protocol["contactsLocationsModule"]["locations"][0]["status"] = "COMPLETED"

    old, new = _edited(tigit("NCT07227597", "2026-03-10__66773312"), close_first)
    (change,) = diff_trials(old, new)
    assert (change.kind, change.old, change.new) == ("site_status", "RECRUITING", "COMPLETED")
    assert change.site == SiteRef(
        "Rambam Health Care Campus ( Site 0602)",
        "Haifa",
        None,
        "3109601",
        "Israel",
        (32.81303, 34.99928),
    )


def test_third_party_keys_are_no_change() -> None:
    """Keys a copying tool adds next to the record (ctrdata's) are not part of the trial."""
    raw = load_fixture(tigit("NCT07227597", "2026-03-10__66773312"))
    tagged = {**raw, "ctrname": "CTGOV2", "record_last_import": "2026-03-08 10:00:00"}
    assert diff_trials(parse_trial(raw), parse_trial(tagged)) == []


def test_age_and_sex_changes_are_one_change_per_field() -> None:
    """A new minimum age and a new sex restriction are two age_sex changes."""

    def restrict(protocol: Any) -> None:
        protocol["eligibilityModule"]["minimumAge"] = "21 Years"
        protocol["eligibilityModule"]["sex"] = "FEMALE"

    old, new = _edited(tigit("NCT07227597", "2026-03-10__66773312"), restrict)
    assert [summary(c) for c in diff_trials(old, new)] == [
        ("age_sex", "eligibilityModule.sex", "ALL", "FEMALE"),
        ("age_sex", "eligibilityModule.minimumAge", "18 Years", "21 Years"),
    ]


def test_posting_results_is_one_change() -> None:
    """Results appearing is one results_posted change, not dozens of results-section edits."""
    with_results = load_fixture("NCT02513394__mcode-ctms-spec-data.json")
    before = copy.deepcopy(with_results)
    before["hasResults"] = False
    del before["resultsSection"]
    status = before["protocolSection"]["statusModule"]
    for key in [k for k in status if k.startswith("resultsFirst")]:
        del status[key]
    changes = diff_trials(parse_trial(before), parse_trial(with_results))
    assert [summary(c) for c in changes] == [("results_posted", "hasResults", False, True)]


def test_a_change_in_posted_results_is_reported_as_other() -> None:
    """An edit inside already-posted results still shows, as an info change on that path."""

    def edit(raw: Any) -> None:
        raw["resultsSection"]["moreInfoModule"]["certainAgreement"] = {"piSponsorEmployee": True}

    raw = load_fixture("NCT02513394__mcode-ctms-spec-data.json")
    changed = copy.deepcopy(raw)
    edit(changed)
    (change,) = diff_trials(parse_trial(raw), parse_trial(changed))
    assert (change.kind, change.field, change.severity) == (
        "other",
        "resultsSection.moreInfoModule.certainAgreement",
        "info",
    )
    assert change.new == {"piSponsorEmployee": True}


def test_reordered_references_are_no_change() -> None:
    """Generic list fields compare as sets: the same references in another order say nothing."""
    old, new = _edited(
        tigit("NCT05063149", "2026-02-05__62edf6a6"),
        lambda p: p["referencesModule"]["references"].reverse(),
    )
    assert old.remainder != new.remainder
    assert diff_trials(old, new) == []


# -- what people read ------------------------------------------------------------------------


def test_report_groups_changes_by_kind_for_people() -> None:
    """The text shows headings by kind, old → new, enrollment as count and type, sites by label."""
    text = format_changes(
        diff_files(
            tigit("NCT05935098", "2026-02-04__9d3bbfc8"),
            tigit("NCT05935098", "2026-03-14__14b1b906"),
        )
    )
    assert text.splitlines()[:2] == ["Overall status", "  ACTIVE_NOT_RECRUITING → TERMINATED"]
    assert "Enrollment\n  263 estimated → 99 actual" in text
    assert "  Primary completion: 2027-03-31 (estimated) → 2026-01-27 (actual)" in text
    assert text.index("Overall status") < text.index("Enrollment") < text.index("Dates (2)")
    sites = format_changes(
        diff_files(
            tigit("NCT05123482", "2026-02-03__91d8d988"),
            tigit("NCT05123482", "2026-02-16__2591e4c2"),
        )
    )
    assert "Sites added\n  Research Site, Taichung, Taiwan: NOT_YET_RECRUITING" in sites
    assert "  Research Site, Sarasota, Florida, United States: was WITHDRAWN" in sites
    assert "  Research Site, Duarte, California, United States: RECRUITING → COMPLETED" in sites


def test_one_line_summary_gives_the_status_move_and_counts_the_rest() -> None:
    """`history` shows each version on one line: the status in full, other kinds counted."""
    changes = diff_files(
        tigit("NCT06911827", "2026-02-11__afb21bfb"), tigit("NCT06911827", "2026-02-26__0763c69c")
    )
    assert summarize_line(changes) == (
        "overall status: NOT_YET_RECRUITING → RECRUITING; sites added (1); dates (1)"
    )
    assert summarize_line([]) == ""


def test_report_of_nothing_says_so() -> None:
    """An empty list of changes prints a sentence rather than nothing."""
    assert format_changes([]) == "No changes."


def test_report_shows_a_kind_it_does_not_know() -> None:
    """A change of a kind added later (read back from the store) is still shown."""
    change = Change("pause", "protocolSection.statusModule.pauseReason", "a", "b", "minor")
    assert format_changes([change]) == "pause\n  Status: pause reason: a → b"


def _with_criteria(edit: Any) -> tuple[Any, Any]:
    def change_text(protocol: Any) -> None:
        module = protocol["eligibilityModule"]
        module["eligibilityCriteria"] = edit(module["eligibilityCriteria"])

    return _edited(NCT02576665, change_text)


def test_criteria_only_respaced_or_unescaped_are_no_change() -> None:
    """Removing CommonMark escapes, doubling spaces and CRLF line ends changes no criterion."""
    old, new = _with_criteria(
        lambda text: (
            text.replace("\\[", "[")
            .replace("\\]", "]")
            .replace("\\<", "<")
            .replace("\\>", ">")
            .replace(". ", ".  ")
            .replace("\n", "\r\n")
        )
    )
    assert old.eligibility.criteria != new.eligibility.criteria
    assert diff_trials(old, new) == []


def test_criteria_edits_are_reported_item_by_item() -> None:
    """A dropped, an edited, a nested and an added criterion give one change each, in order."""
    old, new = _with_criteria(
        lambda text: (
            text.replace("5. Patient has an estimated life expectancy of at least 6 months.\n", "")
            .replace("(Cockcroft-Gault) ≥ 50 mL/min", "(Cockcroft-Gault) ≥ 60 mL/min")
            .replace("11. Patient is breast feeding.", "11. Patient is breast feeding or pregnant.")
            + "\n13. Patient has received a live vaccine within 30 days."
        )
    )
    changes = diff_trials(old, new)
    organ = "Patient has adequate organ function, as indicated by the following laboratory values"
    assert [(c.old, c.new, c.detail) for c in changes] == [
        (
            "Patient has an estimated life expectancy of at least 6 months.",
            None,
            {"section": "inclusion"},
        ),
        (
            "Kidney: estimated glomerular filtration rate (Cockcroft-Gault) ≥ 50 mL/min.",
            "Kidney: estimated glomerular filtration rate (Cockcroft-Gault) ≥ 60 mL/min.",
            {"section": "inclusion", "parent": organ},
        ),
        (
            "Patient is breast feeding.",
            "Patient is breast feeding or pregnant.",
            {"section": "exclusion"},
        ),
        (None, "Patient has received a live vaccine within 30 days.", {"section": "exclusion"}),
    ]
    assert {c.kind for c in changes} == {"eligibility"}
    text = format_changes(changes)
    assert "Exclusion, changed:\n    was: Patient is breast feeding.\n" in text
    assert f"Inclusion, changed (under {organ}):" in text
