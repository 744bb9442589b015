"""A file from disk as a response a cache can revalidate: ETag, Last-Modified and 304.

Feed readers poll every few minutes; answering "not modified" from the file's size and
modification time costs a `stat`, not a read. The ETag is weak (size and mtime in
nanoseconds), which is all a file rewritten atomically needs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response


def _etag(stat: os.stat_result) -> str:
    return f'W/"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in (tag.strip() for tag in match.split(",")) or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def file_response(
    request: Request, path: Path, media_type: str, *, cache: str = "no-cache", missing: str
) -> Response:
    """`path` with validators, or 304 when the client's copy is current; a 404 page saying
    `missing` when there is no such file."""
    try:
        stat = path.stat()
    except OSError:
        raise HTTPException(404, missing) from None
    etag = _etag(stat)
    modified = datetime.fromtimestamp(int(stat.st_mtime), UTC)
    headers = {
        "etag": etag,
        "last-modified": format_datetime(modified, usegmt=True),
        "cache-control": cache,
    }
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)
