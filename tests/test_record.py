"""Reading watched fields out of real ClinicalTrials.gov records."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conftest import all_fixture_records, load_fixture

from watcher.core.record import (
    Contact,
    DatePoint,
    Enrollment,
    Site,
    parse_trial,
    place_label,
)

MERCK_NEW = "NCT07227597__partrita-tigit__2026-03-10__66773312.json"


def _site(**parts: Any) -> Site:
    fields: dict[str, Any] = {
        "facility": None,
        "city": None,
        "state": None,
        "zip": None,
        "country": None,
        "status": None,
        "contacts": (),
        "geo": None,
    }
    return Site(**{**fields, **parts})


def test_reads_the_watched_fields_of_a_real_record() -> None:
    """A recruiting trial's status, phases, enrollment, dates, sponsor and sites come through."""
    trial = parse_trial(load_fixture(MERCK_NEW))
    assert trial.nct_id == "NCT07227597"
    assert trial.overall_status == "RECRUITING"
    assert trial.why_stopped is None
    assert trial.phases == ("PHASE1", "PHASE2")
    assert trial.study_type == "INTERVENTIONAL"
    assert trial.enrollment == Enrollment(170, "ESTIMATED")
    assert trial.start_date == DatePoint("2026-01-29", "ACTUAL")
    assert trial.primary_completion_date == DatePoint("2030-11-29", "ESTIMATED")
    assert trial.conditions == ("Small Cell Lung Cancer Extensive Stage",)
    assert trial.lead_sponsor == "Merck Sharp & Dohme LLC"
    assert trial.collaborators == ("Daiichi Sankyo",)
    assert trial.central_contacts == (
        Contact("Toll Free Number", "CONTACT", "1-888-577-8839", None, "Trialsites@msd.com"),
    )
    assert [s.label() for s in trial.sites] == [
        "Rambam Health Care Campus ( Site 0602), Haifa, Israel",
        "Sheba Medical Center ( Site 0601), Ramat Gan, Israel",
    ]
    first = trial.sites[0]
    assert (first.zip, first.status, first.geo) == ("3109601", "RECRUITING", (32.81303, 34.99928))
    assert first.contacts[0].phone == "+97247772688"
    assert len(trial.interventions) == 6
    assert trial.interventions[0].other_names[0] == "MK-6070"
    assert len(trial.arm_groups) == 4
    assert (len(trial.primary_outcomes), len(trial.secondary_outcomes)) == (4, 22)
    assert trial.eligibility.sex == "ALL"
    assert trial.eligibility.minimum_age == "18 Years"
    assert trial.eligibility.maximum_age is None
    assert trial.eligibility.healthy_volunteers is False
    assert trial.eligibility.criteria is not None
    assert trial.eligibility.criteria.startswith("Inclusion Criteria:")
    assert trial.has_results is False
    assert trial.last_update_posted == "2026-02-20"


def test_reads_why_stopped_and_last_known_status() -> None:
    """A terminated trial keeps its reason; an UNKNOWN one keeps its last known status."""
    stopped = parse_trial(load_fixture("NCT05935098__partrita-tigit__2026-03-14__14b1b906.json"))
    assert stopped.overall_status == "TERMINATED"
    assert stopped.why_stopped is not None
    assert stopped.why_stopped.startswith("This decision was conducted by the sponsor")
    unknown = parse_trial(load_fixture("NCT05294952__partrita-tigit__2026-03-03__8078b9f0.json"))
    assert (unknown.overall_status, unknown.last_known_status) == ("UNKNOWN", "NOT_YET_RECRUITING")


def test_reads_a_record_with_results_and_437_sites() -> None:
    """The largest real record parses whole: every site and the posted results."""
    raw = load_fixture("NCT02513394__mcode-ctms-spec-data.json")
    trial = parse_trial(raw)
    assert trial.has_results is True
    assert len(trial.sites) == 437
    assert (
        trial.sites[0].label()
        == "University of South Alabama Mitchell Cancer Institute, Mobile, Alabama, United States"
    )


@pytest.mark.parametrize("path", all_fixture_records(), ids=lambda p: p.name[:40])
def test_every_recorded_study_parses(path: Any) -> None:
    """Every recorded study gives a Trial with its own NCT ID and every one of its sites."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    trial = parse_trial(raw)
    assert trial.nct_id == path.name[:11]
    places = raw["protocolSection"].get("contactsLocationsModule", {})
    assert len(trial.sites) == len(places.get("locations", []))


def test_a_fields_subset_reads_what_is_there() -> None:
    """A `fields=` subset (no types, no official title) leaves the missing parts empty."""
    trial = parse_trial(load_fixture("NCT02576665__biomcp-capture-fields-subset.json"))
    assert trial.official_title is None
    assert trial.enrollment == Enrollment(21, None)
    assert trial.start_date == DatePoint("2016-07", None)
    assert trial.primary_completion_date is None
    assert trial.interventions[0].type is None
    assert trial.interventions[0].other_names == (
        "vocimagene amiretrorepvec",
        "RRV",
        "retroviral replicating viral",
    )
    assert trial.eligibility.maximum_age == "75 Years"
    assert [s.status for s in trial.sites] == [None, None, None]


def test_an_empty_object_is_an_empty_trial() -> None:
    """Parsing never raises on missing fields: everything reads as absent."""
    trial = parse_trial({})
    assert trial.nct_id is None
    assert trial.overall_status is None
    assert trial.phases == ()
    assert trial.enrollment is None
    assert trial.sites == ()
    assert trial.eligibility.criteria is None
    assert trial.has_results is False
    assert trial.remainder == ()


def test_malformed_values_read_as_absent() -> None:
    """Values of the wrong type are ignored instead of crashing or leaking through."""
    raw = {
        "protocolSection": {
            "identificationModule": {"nctId": 7310784, "briefTitle": ["not", "text"]},
            "statusModule": "RECRUITING",
            "designModule": {"phases": "PHASE1", "enrollmentInfo": {"count": "120"}},
            "eligibilityModule": {"healthyVolunteers": "No"},
            "contactsLocationsModule": {
                "locations": [None, {"facility": 3, "city": "Lyon", "geoPoint": {"lat": "x"}}],
                "centralContacts": {"name": "not a list"},
            },
        },
        "hasResults": "true",
    }
    trial = parse_trial(raw)
    assert (trial.nct_id, trial.brief_title, trial.overall_status) == (None, None, None)
    assert trial.phases == ()
    assert trial.enrollment is None
    assert trial.eligibility.healthy_volunteers is None
    assert trial.sites == (_site(city="Lyon"),)
    assert trial.central_contacts == ()
    assert trial.has_results is False


def test_a_trial_cannot_be_changed_after_parsing() -> None:
    """A parsed Trial is frozen and hashable, so a stored version cannot drift."""
    trial = parse_trial(load_fixture(MERCK_NEW))
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.overall_status = "COMPLETED"  # type: ignore[misc]
    assert hash(trial) == hash(parse_trial(load_fixture(MERCK_NEW)))


def test_site_key_ignores_spelling_the_registry_shuffles() -> None:
    """Case, spacing, punctuation, accents and mis-decoded accents do not make a new site."""
    pairs = [
        ("Rambam Health Care Campus ( Site 0602)", "Rambam Health Care Campus (Site 0602)"),
        # NCT06203210, 2026-02-10 then 2026-03-10: the registry re-spaced its own mojibake.
        (
            "Centre Hospitalier Intercommunal de Crăteil",
            "Centre Hospitalier Intercommunal de Cră Teil",
        ),
        ("Assistance Publique-Hăpitaux de Marseille", 'Assistance Publique-Hă"Pitaux de Marseille'),
        ("Hôpital Saint-Louis", "HOPITAL SAINT LOUIS"),
        ("St. Mary's Hospital", "St Marys Hospital"),
    ]
    for before, after in pairs:
        assert _site(facility=before, city="Paris").key == _site(facility=after, city="Paris").key


def test_site_key_separates_real_differences() -> None:
    """Another zip, city or facility is another site, even under a generic facility name."""
    base = _site(facility="Research Site", city="Madison", zip="53705", country="United States")
    assert base.key != dataclasses.replace(base, zip="53792").key
    assert base.key != dataclasses.replace(base, city="Milwaukee").key
    assert base.key != dataclasses.replace(base, facility="Research Site 2").key


def test_site_label_names_the_place_as_a_coordinator_would() -> None:
    """Sites read "Facility, City, Country", with the state for the US, skipping gaps."""
    us = _site(facility="Mayo Clinic", city="Rochester", state="Minnesota", country="United States")
    assert us.label() == "Mayo Clinic, Rochester, Minnesota, United States"
    abroad = _site(
        facility="Hôpital Foch", city="Suresnes", state="Hauts-de-Seine", country="France"
    )
    assert abroad.label() == "Hôpital Foch, Suresnes, France"
    assert _site(city="Haifa", country="Israel").label() == "Haifa, Israel"
    assert place_label(None, None, None, None) == "(unnamed site)"


def test_remainder_keeps_submitted_content_only() -> None:
    """Housekeeping, derived data, third-party keys and named fields stay out of the remainder."""
    raw = load_fixture("NCT01505608__ctrdata-demo-sqlite__2024-05-16__b195accc.json")
    assert "ctrname" in raw and "derivedSection" in raw
    remainder = dict(parse_trial(raw).remainder)
    assert not [p for p in remainder if p.startswith(("ctrname", "record_last", "derivedSection"))]
    status = "protocolSection.statusModule."
    for housekeeping in ("lastUpdatePostDateStruct", "lastUpdateSubmitDate", "statusVerifiedDate"):
        assert status + housekeeping not in remainder
    for named in ("overallStatus", "startDateStruct", "completionDateStruct"):
        assert status + named not in remainder
    assert "protocolSection.contactsLocationsModule.locations" not in remainder
    assert "protocolSection.eligibilityModule.eligibilityCriteria" not in remainder
    assert "protocolSection.descriptionModule.briefSummary" in remainder
    sponsor = json.loads(remainder["protocolSection.sponsorCollaboratorsModule.leadSponsor"])
    assert set(sponsor) == {"class"}  # the name is a named field; its class is not
