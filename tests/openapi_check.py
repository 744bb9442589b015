"""Every API response a test gets, checked against the OpenAPI document the site serves.

`checked_client()` is an httpx client whose response hook validates each response under
/api/v1: its path and method are in the document (or it is a problem+json 404 / 405), its
status is listed for the operation (or falls to `default`), its media type is one the document
gives for that status, and a JSON body validates against the schema named there (jsonschema,
draft 2020-12, the dialect of OpenAPI 3.1, with `$ref`s resolved in the document). A test
cannot get an API response that skipped the check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012 as _DIALECT

from watcher.web.openapi import document

PREFIX = "/api/v1"
UNDOCUMENTED = {"/openapi.json", "/docs"}  # the document itself and its page
DOC_URI = "urn:trialwatch:openapi"


class Contract:
    """The document, and a check of one response against it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry: Registry[Any] = Registry().with_resource(
            DOC_URI, Resource.from_contents(doc, default_specification=_DIALECT)
        )
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in doc["paths"]
        ]
        self.checked = 0

    def validate(self, schema_pointer: str, value: Any) -> None:
        validator = Draft202012Validator(
            {"$ref": f"{DOC_URI}#{schema_pointer}"}, registry=self.registry
        )
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        assert not errors, f"{schema_pointer}: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5]
        )

    def check(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if not path.startswith(PREFIX + "/") or path[len(PREFIX) :] in UNDOCUMENTED:
            return
        path = path[len(PREFIX) :]
        method = response.request.method.lower()
        media = response.headers.get("content-type", "").split(";")[0].strip()
        template = next((t for pattern, t in self.templates if pattern.match(path)), None)
        if template is None or method not in self.doc["paths"][template]:
            assert response.status_code in (404, 405), (path, method, response.status_code)
            self._problem(response, media, "/components/schemas/Problem")
            return
        responses = self.doc["paths"][template][method]["responses"]
        status = str(response.status_code)
        key = status if status in responses else "default"
        assert key in responses, f"{method} {template}: {status} is not documented"
        content = responses[key]["content"]
        assert media in content, f"{method} {template} {status}: {media} not in {list(content)}"
        where = f"{_escape(template)}/{method}/responses/{key}/content/{_escape(media)}"
        pointer = f"/paths/{where}/schema"
        if media.endswith("json"):
            self.validate(pointer, json.loads(response.content))
        else:
            assert response.content.startswith(b"\xef\xbb\xbf"), "a CSV starts with the BOM"
        self.checked += 1

    def _problem(self, response: httpx.Response, media: str, pointer: str) -> None:
        assert media == "application/problem+json", (response.request.url.path, media)
        self.validate(pointer, response.json())
        self.checked += 1


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def response_hook(contract: Contract) -> Callable[[httpx.Response], None]:
    """An httpx response hook that reads each response and checks it."""

    def hook(response: httpx.Response) -> None:
        response.read()
        contract.check(response)

    return hook


def checked_client(base_url: str, contract: Contract, **kwargs: Any) -> httpx.Client:
    """An httpx client whose every API response is checked by `contract`."""
    hooks = {"response": [response_hook(contract)]}
    return httpx.Client(base_url=base_url, event_hooks=hooks, timeout=30, **kwargs)


def contract() -> Contract:
    return Contract(document())
