"""`/api/v1`: the coordinators' JSON API, mounted in the web front's app.

Why Starlette routes and not FastAPI (which `app.py` once anticipated): FastAPI's gift is an
OpenAPI document generated from pydantic models. Here that would mean two new dependencies
(FastAPI and pydantic, with its compiled core) to describe about fifteen routes whose shapes
already exist as the service's dicts, and a document that says whatever the code happens to do.
A hand-written OpenAPI 3.1 document (`openapi.py`) is the contract instead: validated in the
tests, every test response checked against it, and the docs page rendered from it. The routes
are a sub-application (`Mount`), so an error under /api/v1 is `application/problem+json`
(`problems.py`) while the pages keep their HTML error pages; the app's middleware (access log,
security headers, body limit) wraps both.

Reads and writes go through the same services as the command line: `service/exports.py`
(trials, changes, CSV), `service/versions.py` (the timeline), `service/subscriptions.py`
(watch, subscribe, stop watching), the store's searches. Who may call what: `api_auth.py`.
An address only ever travels in a JSON body, never a path or query (the access log writes
paths), and no response lists the addresses of a trial's subscribers, only counts.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from watcher.core.addresses import validate_email
from watcher.core.change import AUDIENCES, DELIVERIES
from watcher.core.ids import is_nct_id
from watcher.core.spreadsheet import changes_csv, trials_csv
from watcher.core.subscriptions import Subscription
from watcher.core.wording.timeline import build_timeline
from watcher.errors import InputError, RegistryError
from watcher.service.exports import (
    MAX_PAGE,
    change_json,
    change_page,
    parse_change_kinds,
    parse_since,
    parsed,
    parsed_version,
    trial_fields,
    trial_summaries,
)
from watcher.service.searches import search_json
from watcher.service.subscriptions import stop_watching, subscribe
from watcher.service.versions import stored_versions
from watcher.store.rows import TrialRow, VersionRow
from watcher.web.api_auth import Access, Guard
from watcher.web.context import WebContext
from watcher.web.openapi import DEFAULT_LIMIT, document
from watcher.web.problems import Problem, bad_parameter, problem_response
from watcher.web.render import page

PREFIX = "/api/v1"
CSV_TYPE = "text/csv; charset=utf-8; header=present"
NO_STORE = {"cache-control": "no-store"}
_VERSION = re.compile(r"-?[0-9]{1,9}")
Handler = Callable[[Request], Response]


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The API, as one mount under `PREFIX`."""
    guard = Guard(ctx)
    spec = document()
    spec_bytes = json.dumps(spec, ensure_ascii=False, indent=1).encode("utf-8")

    def guarded(handler: Handler, access: Access = Access.READ) -> Handler:
        """A plain handler (run on a worker thread, with its own store), behind the guard."""

        def checked_first(request: Request) -> Response:
            guard.check(request, access)
            return handler(request)

        return checked_first

    def watched(request: Request) -> TrialRow:
        typed = str(request.path_params["nct_id"]).strip().upper()
        if not is_nct_id(typed):
            raise bad_parameter("nct_id", "not an NCT ID; write NCT and 8 digits, e.g. NCT07310784")
        row = ctx.store().trial(typed)
        if row is None or not row.watched:
            raise Problem(404, f"{typed} is not watched here; watch it with POST {PREFIX}/watches.")
        return row

    def checked(row: TrialRow) -> int:
        if row.current_version is None:
            raise Problem(404, f"{row.nct_id} has not been checked yet; ask again after a check.")
        return row.current_version

    def trials(request: Request) -> Response:
        csv = _format(request)
        listed = list(trial_summaries(ctx.store(), ctx.settings))
        if csv:
            return _csv(trials_csv(listed), "trials.csv")
        return _json({"trials": listed})

    def trial(request: Request) -> Response:
        row = watched(request)
        number = checked(row)
        version = ctx.store().version(row.nct_id, number)
        assert version is not None  # the trial's current version is stored
        return _json(
            {
                "nct_id": row.nct_id,
                "version": number,
                "fetched_at": version.fetched_at,
                "fields": trial_fields(parsed_version(ctx.store(), row.nct_id, number)),
            }
        )

    def versions(request: Request) -> Response:
        row = watched(request)
        rows = ctx.store().versions(row.nct_id)
        return _json({"nct_id": row.nct_id, "versions": [_version(v) for v in rows]})

    def version(request: Request) -> Response:
        row = watched(request)
        typed = str(request.path_params["n"])
        if not _VERSION.fullmatch(typed):  # a backfilled past may be numbered 0, -1, …
            raise bad_parameter("n", f"{typed!r} is not a version number (1, 2, …)")
        stored = ctx.store().version(row.nct_id, int(typed))
        if stored is None or stored.version != int(typed):
            raise Problem(404, f"{row.nct_id} has no stored version {typed}; see its /versions.")
        record = ctx.store().record(row.nct_id, stored.version)
        fields = trial_fields(parsed(record))
        return _json({**_version(stored), "nct_id": row.nct_id, "fields": fields, "record": record})

    def trial_changes(request: Request) -> Response:
        row = watched(request)
        found = ctx.store().changes(row.nct_id)
        return _json({"nct_id": row.nct_id, "changes": [change_json(c) for c in found]})

    def timeline(request: Request) -> Response:
        row = watched(request)
        checked(row)
        story = build_timeline(stored_versions(ctx.store(), row.nct_id))
        return _json(story.to_json())

    def changes(request: Request) -> Response:
        query = request.query_params
        csv = _format(request)
        if not query.get("since"):
            raise bad_parameter("since", "required: a date (2026-11-24) or a duration (7d)")
        since = _input(lambda: parse_since(query["since"], ctx.clock(), "since"), "since")
        kinds = _input(lambda: parse_change_kinds(query.get("kind"), "kind"), "kind")
        limit = _limit(query.get("limit"))
        after = _cursor(query.get("cursor"))
        found = change_page(ctx.store(), since, kinds, after, limit)
        next_path, cursor = None, None
        if found.next_after is not None:
            cursor = _encode_cursor(found.next_after)
            params = {"since": since.isoformat(), "limit": str(limit), "cursor": cursor}
            if kinds:
                params["kind"] = ",".join(kinds)
            if csv:
                params["format"] = "csv"
            next_path = f"{PREFIX}/changes?{urlencode(params)}"
        if csv:
            link = {"link": f'<{next_path}>; rel="next"'} if next_path else {}
            return _csv(changes_csv(found.changes), "changes.csv", link)
        return _json(
            {
                "changes": [change_json(c) for c in found.changes],
                "next_cursor": cursor,
                "next": next_path,
            }
        )

    def searches(request: Request) -> Response:
        store = ctx.store()
        saved = store.searches()
        counts = store.search_subscriber_counts()
        return _json(
            {
                "searches": [
                    {
                        **search_json(s, counts.get(s.id, 0)),
                        "matches": len(store.search_matches(s.id)),
                    }
                    for s in saved
                ]
            }
        )

    def unwatch(request: Request) -> Response:
        row = watched(request)
        force = _flag(request.query_params.get("force"), "force")
        try:
            done = stop_watching(ctx.store(), ctx.settings, [row.nct_id], ctx.clock(), force=force)
        except InputError as exc:
            raise Problem(409, f"{exc}".replace("add --force", "add ?force=true")) from None
        told = done.told.get(row.nct_id, 0)
        return _json({"nct_id": row.nct_id, "removed": True, "subscribers_told": told})

    async def watch(request: Request) -> Response:
        await run_in_threadpool(guard.check, request, Access.WRITE)
        body = await _body(request, required={"nct_id"})
        nct_id = _nct_member(body["nct_id"], "nct_id")

        def add() -> Response:
            added = ctx.store().add_watches([nct_id], ctx.clock())
            return _json(
                {"nct_id": nct_id, "watched": True, "added": bool(added)},
                status=201 if added else 200,
                headers={"location": f"{PREFIX}/trials/{nct_id}"},
            )

        return await run_in_threadpool(add)

    async def lookup(request: Request) -> Response:
        await run_in_threadpool(guard.check, request, Access.PRIVATE)
        body = await _body(request, required={"address"})
        address = _address(body["address"])

        def find() -> Response:
            store = ctx.store()
            person = store.subscriber(email=address)
            subs = [] if person is None else store.subscriptions(subscriber_id=person.id)
            return _json({"subscriptions": [_subscription(sub) for _, sub in subs]})

        return await run_in_threadpool(find)

    async def add_subscription(request: Request) -> Response:
        await run_in_threadpool(guard.check, request, Access.WRITE)
        body = await _body(
            request,
            required={"address", "nct_ids"},
            optional={"audience", "delivery", "kinds"},
        )
        address = _address(body["address"])
        nct_ids = _nct_list(body["nct_ids"])
        audience = _choice(body.get("audience"), AUDIENCES, "audience")
        delivery = _choice(body.get("delivery"), DELIVERIES, "delivery")
        kinds = _kinds(body.get("kinds"))

        def add() -> Response:
            try:
                done = subscribe(
                    ctx.store(),
                    ctx.settings,
                    address,
                    nct_ids,
                    ctx.clock(),
                    audience=audience,
                    delivery=delivery,
                    kinds=kinds,
                )
            except InputError as exc:
                raise bad_parameter("nct_ids", str(exc)) from None
            except RegistryError:
                raise Problem(
                    503, "ClinicalTrials.gov did not answer; try again in a few minutes."
                ) from None
            created = [o.after.nct_id for o in done.outcomes if o.before is None]
            updated = [o.after.nct_id for o in done.outcomes if o.before not in (None, o.after)]
            same = [o.after.nct_id for o in done.outcomes if o.before == o.after]
            result = {
                "created": created,
                "updated": updated,
                "unchanged": same,
                "watched_now": list(done.watched_now),
            }
            return _json(result, status=201 if created else 200)

        return await run_in_threadpool(add)

    async def remove_subscription(request: Request) -> Response:
        await run_in_threadpool(guard.check, request, Access.WRITE)
        body = await _body(request, required={"address"}, optional={"nct_ids"})
        address = _address(body["address"])
        nct_ids = _nct_list(body["nct_ids"]) if "nct_ids" in body else None

        def end() -> Response:
            store = ctx.store()
            person = store.subscriber(email=address)
            ended = 0 if person is None else store.unsubscribe(person, nct_ids)
            return _json({"ended": ended})

        return await run_in_threadpool(end)

    def openapi(request: Request) -> Response:
        return Response(spec_bytes, media_type="application/json")

    def docs(request: Request) -> Response:
        return page(ctx, request, "web/api_docs.html.j2", operations=_operations(spec))

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not isinstance(exc, Problem) and exc.status_code == 404:
            exc = Problem(
                404, f"There is nothing at this path; the API is listed at {PREFIX}/docs."
            )
        elif not isinstance(exc, Problem) and exc.status_code == 405:
            exc = Problem(
                405,
                f"This path does not take {request.method}; see {PREFIX}/docs.",
                headers=dict(exc.headers or {}),
            )
        return problem_response(exc)

    async def broken(request: Request, exc: Exception) -> Response:
        return problem_response(
            Problem(500, "Something went wrong on this site; try again in a few minutes.")
        )

    api = Starlette(
        routes=[
            Route("/openapi.json", openapi),
            Route("/docs", docs),
            Route("/trials", guarded(trials)),
            Route("/trials/{nct_id}", guarded(trial)),
            Route("/trials/{nct_id}/versions", guarded(versions)),
            Route("/trials/{nct_id}/versions/{n}", guarded(version)),
            Route("/trials/{nct_id}/changes", guarded(trial_changes)),
            Route("/trials/{nct_id}/timeline", guarded(timeline)),
            Route("/changes", guarded(changes)),
            Route("/searches", guarded(searches)),
            Route("/watches", watch, methods=["POST"]),
            Route("/watches/{nct_id}", guarded(unwatch, Access.WRITE), methods=["DELETE"]),
            Route("/subscriptions", add_subscription, methods=["POST"]),
            Route("/subscriptions", remove_subscription, methods=["DELETE"]),
            Route("/subscriptions/lookup", lookup, methods=["POST"]),
        ],
        exception_handlers={HTTPException: problem, Exception: broken},
    )
    api.state.ctx = ctx
    return [Mount(PREFIX, app=api)]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers={**NO_STORE, **(headers or {})})


def _csv(data: bytes, name: str, headers: dict[str, str] | None = None) -> Response:
    disposition = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(
        data, media_type=CSV_TYPE, headers={**NO_STORE, **disposition, **(headers or {})}
    )


def _format(request: Request) -> bool:
    """True for `?format=csv`; JSON by default."""
    form = request.query_params.get("format", "json")
    if form not in ("json", "csv"):
        raise bad_parameter("format", f"{form!r} is not a format here; use json or csv")
    return form == "csv"


def _input(parse: Callable[[], Any], name: str) -> Any:
    """A parser's `InputError` (already naming the parameter) as a 422."""
    try:
        return parse()
    except InputError as exc:
        raise Problem(422, str(exc), parameter=name) from None


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise bad_parameter("limit", f"{text!r} is not a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode().rstrip("=")


def _cursor(text: str | None) -> int:
    """The change id a cursor continues after (0: from the start)."""
    if text is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        tag, _, number = decoded.partition(":")
        if tag == "after" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_parameter("cursor", "not a cursor from this API; pass next_cursor as it came")


def _flag(text: str | None, name: str) -> bool:
    if text is None or text.casefold() in ("false", "0", "no"):
        return False
    if text.casefold() in ("true", "1", "yes"):
        return True
    raise bad_parameter(name, f"{text!r} is not true or false")


async def _body(
    request: Request, *, required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """The request's JSON object, with its required members and no unknown ones."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_parameter(
            "body", "send one JSON object (Content-Type: application/json)"
        ) from None
    if not isinstance(body, dict):
        raise bad_parameter("body", 'send one JSON object, e.g. {"nct_id": "NCT07310784"}')
    missing = sorted(required - body.keys())
    if missing:
        raise bad_parameter(missing[0], "required")
    unknown = sorted(body.keys() - required - set(optional))
    if unknown:
        raise bad_parameter(unknown[0], "not a member this takes; see the API's docs")
    return body


def _nct_member(value: Any, name: str) -> str:
    typed = value.strip().upper() if isinstance(value, str) else ""
    if not is_nct_id(typed):
        raise bad_parameter(name, "not an NCT ID; write NCT and 8 digits, e.g. NCT07310784")
    return typed


def _nct_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad_parameter("nct_ids", "give a list of one or more NCT IDs")
    return list(dict.fromkeys(_nct_member(v, "nct_ids") for v in value))


def _address(value: Any) -> str:
    """A checked address; the refusal never repeats it (responses may be logged by a proxy)."""
    try:
        return validate_email(value if isinstance(value, str) else "")
    except ValueError:
        raise bad_parameter("address", "not one email address, e.g. name@example.org") from None


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None or value in allowed:
        return value if isinstance(value, str) else None
    raise bad_parameter(name, f"choose one of {', '.join(allowed)}")


def _kinds(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_parameter("kinds", 'give a list of change kinds, e.g. ["status", "sites"]')
    return frozenset(_input(lambda: parse_change_kinds(",".join(value), "kinds"), "kinds"))


def _version(row: VersionRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "fetched_at": row.fetched_at,
        "source": row.source,
        "last_update_posted": row.last_update_posted,
        "content_hash": row.content_hash,
        "registry_version": row.registry_version,
        "registry_date": row.registry_date,
    }


def _subscription(sub: Subscription) -> dict[str, Any]:
    return {
        "nct_id": sub.nct_id,
        "audience": sub.audience,
        "delivery": sub.delivery,
        "kinds": None if sub.kinds is None else sorted(sub.kinds),
        "near": None if sub.near is None else str(sub.near),
    }


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations, in its order, as the docs page lists them."""
    return [
        {
            "method": method.upper(),
            "path": PREFIX + path,
            "summary": op["summary"],
            "description": op["description"],
            "key": op["security"] == [{"bearerAuth": []}],
            "parameters": op.get("parameters", []),
            "body": op.get("requestBody", {}).get("content", {}).get("application/json", {}),
            "statuses": sorted(op["responses"]),
        }
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
