"""The API's OpenAPI 3.1 document, written by hand and served at `/api/v1/openapi.json`.

Written here rather than generated (see `api.py` for why there is no FastAPI): the document is
the contract, so it is reviewed as one piece, and the tests hold the code to it — the document
validates (openapi-spec-validator) and every response the tests get is checked against the
schema it names (`tests/test_api.py`). The docs page (`/api/v1/docs`) is rendered from it too,
so the page, the contract and the code cannot drift apart unnoticed.
"""

from __future__ import annotations

import copy
from typing import Any

from watcher.core.change import AUDIENCES, DELIVERIES, KIND_ORDER
from watcher.service.exports import MAX_PAGE

JSON = "application/json"
CSV = "text/csv"
DEFAULT_LIMIT = 100
API_VERSION = "1.0.0"  # the contract's version (paths under /api/v1), not trialwatch's


def _nullable(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **more}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_ANY: dict[str, Any] = {}  # a change's old and new values: whatever the field holds

SCHEMAS: dict[str, Any] = {
    "Problem": _object(
        ["type", "title", "status", "detail"],
        {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": _STRING,
            "parameter": {**_STRING, "description": "The parameter at fault (422)."},
        },
        description="RFC 9457 problem details.",
    ),
    "Trial": _object(
        [
            "nct_id",
            "title",
            "overall_status",
            "sites_recruiting",
            "sites",
            "last_change",
            "last_update_posted",
            "last_checked_at",
            "health",
            "consecutive_failures",
            "last_error",
            "versions",
        ],
        {
            "nct_id": _STRING,
            "title": _nullable("string"),
            "overall_status": _nullable("string"),
            "sites_recruiting": _nullable("integer"),
            "sites": _nullable("integer"),
            "last_change": _nullable("string", description="When its newest change was found."),
            "last_update_posted": _nullable("string"),
            "last_checked_at": _nullable("string"),
            "health": {"enum": ["ok", "retrying", "failing", "not checked yet"]},
            "consecutive_failures": _INT,
            "last_error": _nullable("string"),
            "versions": _INT,
        },
    ),
    "TrialList": _object(["trials"], {"trials": {"type": "array", "items": _ref("Trial")}}),
    "Version": _object(
        ["version", "fetched_at", "source", "last_update_posted", "content_hash"],
        {
            "version": _INT,
            "fetched_at": _STRING,
            "source": {"enum": ["poll", "history"]},
            "last_update_posted": _nullable("string"),
            "content_hash": _STRING,
            "registry_version": _nullable("integer"),
            "registry_date": _nullable("string"),
        },
    ),
    "VersionList": _object(
        ["nct_id", "versions"],
        {"nct_id": _STRING, "versions": {"type": "array", "items": _ref("Version")}},
    ),
    "VersionDetail": {
        "allOf": [
            _ref("Version"),
            _object(
                ["nct_id", "fields", "record"],
                {
                    "nct_id": _STRING,
                    "fields": {"type": "object", "description": "The parsed, watched fields."},
                    "record": {
                        "type": "object",
                        "description": "The record as the registry served it.",
                    },
                },
            ),
        ]
    },
    "TrialFields": _object(
        ["nct_id", "version", "fetched_at", "fields"],
        {
            "nct_id": _STRING,
            "version": _INT,
            "fetched_at": _STRING,
            "fields": _object(
                ["nct_id", "brief_title", "overall_status", "sites", "eligibility"],
                {
                    "nct_id": _nullable("string"),
                    "brief_title": _nullable("string"),
                    "overall_status": _nullable("string"),
                    "sites": {"type": "array", "items": {"type": "object"}},
                    "eligibility": {"type": "object"},
                },
            ),
        },
    ),
    "Change": _object(
        [
            "id",
            "nct_id",
            "from_version",
            "to_version",
            "detected_at",
            "sentence",
            "kind",
            "field",
            "old",
            "new",
            "severity",
        ],
        {
            "id": _INT,
            "nct_id": _STRING,
            "from_version": _INT,
            "to_version": _INT,
            "detected_at": _STRING,
            "sentence": _nullable("string"),
            "kind": {"enum": list(KIND_ORDER)},
            "field": _STRING,
            "old": _ANY,
            "new": _ANY,
            "severity": _STRING,
            "site": {"type": "object"},
            "detail": {"type": "object"},
        },
    ),
    "TrialChanges": _object(
        ["nct_id", "changes"],
        {"nct_id": _STRING, "changes": {"type": "array", "items": _ref("Change")}},
    ),
    "ChangePage": _object(
        ["changes", "next_cursor", "next"],
        {
            "changes": {"type": "array", "items": _ref("Change")},
            "next_cursor": _nullable("string", description="Pass as `cursor`; null: no more."),
            "next": _nullable("string", description="The next page's path, every parameter set."),
        },
    ),
    "Timeline": _object(
        [
            "nct_id",
            "versions",
            "version_dates",
            "statuses",
            "enrollment",
            "sites",
            "eligibility",
            "completion_dates",
        ],
        {
            "nct_id": _STRING,
            "title": _nullable("string"),
            "versions": _INT,
            "version_dates": {"type": "array", "items": {"type": "object"}},
            "first_version_date": _STRING,
            "as_of": _STRING,
            "statuses": {"type": "array", "items": {"type": "object"}},
            "enrollment": {"type": "array", "items": {"type": "object"}},
            "sites": {"type": "array", "items": {"type": "object"}},
            "eligibility": {"type": "array", "items": {"type": "object"}},
            "completion_dates": {"type": "array", "items": {"type": "object"}},
        },
    ),
    "WatchRequest": _object(["nct_id"], {"nct_id": _STRING}, additionalProperties=False),
    "Watch": _object(
        ["nct_id", "watched", "added"],
        {"nct_id": _STRING, "watched": {"type": "boolean"}, "added": {"type": "boolean"}},
    ),
    "Unwatched": _object(
        ["nct_id", "removed", "subscribers_told"],
        {"nct_id": _STRING, "removed": {"type": "boolean"}, "subscribers_told": _INT},
    ),
    "AddressRequest": _object(["address"], {"address": _STRING}, additionalProperties=False),
    "SubscribeRequest": _object(
        ["address", "nct_ids"],
        {
            "address": _STRING,
            "nct_ids": {"type": "array", "items": _STRING, "minItems": 1},
            "audience": {"enum": list(AUDIENCES)},
            "delivery": {"enum": list(DELIVERIES)},
            "kinds": {"type": "array", "items": {"enum": list(KIND_ORDER)}},
        },
        additionalProperties=False,
    ),
    "UnsubscribeRequest": _object(
        ["address"],
        {
            "address": _STRING,
            "nct_ids": {
                "type": "array",
                "items": _STRING,
                "description": "Leave out to end every subscription of the address.",
            },
        },
        additionalProperties=False,
    ),
    "Subscription": _object(
        ["nct_id", "audience", "delivery", "kinds", "near"],
        {
            "nct_id": _STRING,
            "audience": {"enum": list(AUDIENCES)},
            "delivery": {"enum": list(DELIVERIES)},
            "kinds": _nullable("array", items=_STRING),
            "near": _nullable("string"),
        },
    ),
    "SubscriptionList": _object(
        ["subscriptions"], {"subscriptions": {"type": "array", "items": _ref("Subscription")}}
    ),
    "Subscribed": _object(
        ["created", "updated", "unchanged", "watched_now"],
        {
            name: {"type": "array", "items": _STRING}
            for name in ("created", "updated", "unchanged", "watched_now")
        },
    ),
    "Unsubscribed": _object(["ended"], {"ended": _INT}),
    "Search": _object(
        ["name", "statuses", "phases", "subscribers", "matches"],
        {
            "name": _STRING,
            "condition": _nullable("string"),
            "term": _nullable("string"),
            "sponsor": _nullable("string"),
            "statuses": {"type": "array", "items": _STRING},
            "phases": {"type": "array", "items": _STRING},
            "near": _nullable("string"),
            "watch_matches": {"type": "boolean"},
            "notify_existing": {"type": "boolean"},
            "include_updated": {"type": "boolean"},
            "last_release": _nullable("string"),
            "subscribers": _INT,
            "matches": _INT,
        },
    ),
    "SearchList": _object(["searches"], {"searches": {"type": "array", "items": _ref("Search")}}),
}

_NCT = {
    "name": "nct_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^NCT[0-9]{8}$"},
    "description": "The trial's NCT ID, e.g. NCT07310784.",
}
_FORMAT = {
    "name": "format",
    "in": "query",
    "schema": {"enum": ["json", "csv"], "default": "json"},
    "description": "csv: UTF-8 with a byte-order mark, CRLF line ends, one row each.",
}
_READ: list[dict[str, list[str]]] = [
    {"bearerAuth": []},
    {},
]  # anonymous too when [api] public_read = true
_KEY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _json_or_csv(schema: str) -> dict[str, Any]:
    return {
        "description": "OK",
        "content": {JSON: {"schema": _ref(schema)}, CSV: {"schema": _STRING}},
    }


def _problems(*statuses: int) -> dict[str, Any]:
    described = {
        401: "No key, or a key not known here.",
        403: "The key was revoked.",
        404: "No such trial, version or path.",
        409: "Refused as things stand (the detail says why).",
        422: "A parameter is wrong; `parameter` names it.",
        429: "Too many requests from this client; see Retry-After.",
        503: "ClinicalTrials.gov did not answer; try again later.",
    }
    problem = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    out = {str(s): {"description": described[s], **problem} for s in statuses}
    out["default"] = {"description": "Any other error (405, 413, 500).", **problem}
    return out


def _op(
    summary: str,
    description: str,
    ok: dict[str, Any],
    *,
    status: str = "200",
    security: list[dict[str, list[str]]] = _READ,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
    errors: tuple[int, ...] = (401, 403, 429),
    also: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "security": security,
        "responses": {status: ok, **(also or {}), **_problems(*errors)},
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(body)}}}
    return op


PATHS: dict[str, Any] = {
    "/trials": {
        "get": _op(
            "Every watched trial",
            "Status, sites recruiting, last change and health of each watched trial.",
            _json_or_csv("TrialList"),
            parameters=[_FORMAT],
            errors=(401, 403, 422, 429),
        )
    },
    "/trials/{nct_id}": {
        "get": _op(
            "A trial's latest parsed fields",
            "The watched fields of the newest stored version.",
            _json("TrialFields"),
            parameters=[_NCT],
            errors=(401, 403, 404, 422, 429),
        )
    },
    "/trials/{nct_id}/versions": {
        "get": _op(
            "A trial's stored versions",
            "Oldest first: when each was fetched, its source, its hash.",
            _json("VersionList"),
            parameters=[_NCT],
            errors=(401, 403, 404, 422, 429),
        )
    },
    "/trials/{nct_id}/versions/{n}": {
        "get": _op(
            "One stored version",
            "The version's facts, its parsed fields and the record as served.",
            _json("VersionDetail"),
            parameters=[
                _NCT,
                {
                    "name": "n",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                    "description": "The version number, from `/versions` (a backfilled past "
                    "is numbered 0, -1, … before the first checked version, 1).",
                },
            ],
            errors=(401, 403, 404, 422, 429),
        )
    },
    "/trials/{nct_id}/changes": {
        "get": _op(
            "A trial's changes",
            "Every stored change of the trial, in the order found.",
            _json("TrialChanges"),
            parameters=[_NCT],
            errors=(401, 403, 404, 422, 429),
        )
    },
    "/trials/{nct_id}/timeline": {
        "get": _op(
            "A trial's story",
            "What `trialwatch timeline --json` prints: status periods, enrollment, sites, "
            "eligibility edits, completion-date moves, with the registry's dates.",
            _json("Timeline"),
            parameters=[_NCT],
            errors=(401, 403, 404, 422, 429),
        )
    },
    "/changes": {
        "get": _op(
            "Changes across every trial",
            "Changes found since a moment, in the order stored, a page at a time: follow "
            "`next` (JSON) or the `Link: rel=next` header (CSV) until there is none. Each "
            "change comes once across the pages, even while new ones are stored.",
            _json_or_csv("ChangePage"),
            parameters=[
                {
                    "name": "since",
                    "in": "query",
                    "required": True,
                    "schema": _STRING,
                    "description": "2026-11-24, 2026-11-24T09:00:00Z, or a duration back from "
                    "now: 7d, 36h.",
                },
                {
                    "name": "kind",
                    "in": "query",
                    "schema": _STRING,
                    "description": f"Comma-separated kinds: {', '.join(KIND_ORDER)}.",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE,
                        "default": DEFAULT_LIMIT,
                    },
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "schema": _STRING,
                    "description": "`next_cursor` of the page before.",
                },
                _FORMAT,
            ],
            errors=(401, 403, 422, 429),
        )
    },
    "/watches": {
        "post": _op(
            "Watch a trial",
            "It is fetched at the next check. 201 when newly watched, 200 when it already was.",
            _json("Watch", "Newly watched"),
            status="201",
            also={"200": _json("Watch", "Already watched")},
            security=_KEY,
            body="WatchRequest",
            errors=(401, 403, 422, 429),
        ),
    },
    "/watches/{nct_id}": {
        "delete": _op(
            "Stop watching a trial",
            "Refused (409) while anyone follows it, unless `force=true`: then each subscriber "
            "is emailed and their subscription ends.",
            _json("Unwatched"),
            security=_KEY,
            parameters=[
                _NCT,
                {"name": "force", "in": "query", "schema": {"type": "boolean", "default": False}},
            ],
            errors=(401, 403, 404, 409, 422, 429),
        )
    },
    "/subscriptions": {
        "post": _op(
            "Subscribe an address",
            "Subscribes the address (in the body, never the URL) to the trials, watching them "
            "when needed, and queues its welcome email, as `trialwatch subscribe` does.",
            _json("Subscribed", "Subscribed"),
            status="201",
            security=_KEY,
            body="SubscribeRequest",
            errors=(401, 403, 422, 429, 503),
        ),
        "delete": _op(
            "Unsubscribe an address",
            "Ends the address's subscriptions to these trials, or all of them.",
            _json("Unsubscribed"),
            security=_KEY,
            body="UnsubscribeRequest",
            errors=(401, 403, 422, 429),
        ),
    },
    "/subscriptions/lookup": {
        "post": _op(
            "One address's subscriptions",
            "A POST so that the address travels in the body, never in a URL or a log.",
            _json("SubscriptionList"),
            security=_KEY,
            body="AddressRequest",
            errors=(401, 403, 422, 429),
        )
    },
    "/searches": {
        "get": _op(
            "Saved searches",
            "Each saved search, what it asks for, how many follow it and how many trials it "
            "matched.",
            _json("SearchList"),
        )
    },
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a new dict each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trialwatch API",
            "version": API_VERSION,
            "description": (
                "What a trialwatch site knows about the trials it watches, for coordinators' "
                "scripts. Send `Authorization: Bearer KEY` (made with `trialwatch api-key "
                "create NAME`); reads work without a key when the site sets "
                "`[api] public_read = true`. Errors are `application/problem+json`."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
