"""A call's recording or voicemail, played in the page: served only to someone who may see the
call, found by the reference its record holds (never by a name from the URL), with HTTP Range
so the browser's audio element can seek (B5, B8, B15)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from routecore.store.calls import AUDIO_EXTENSIONS, is_plain_reference
from routecore_portal import stores
from routecore_portal.access import member_required, number_or_404
from routecore_portal.streaming import streamed

KINDS = ("recording", "voicemail")
CHUNK = 64 * 1024
TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "gsm": "audio/x-gsm",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _file(reference: str) -> str:
    folder = stores.paths()["recordings"]
    if not is_plain_reference(reference):
        raise Http404("no such file")
    for name in (reference, *(f"{reference}.{ext}" for ext in AUDIO_EXTENSIONS)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise Http404("the file is gone")


def _chunks(path: str, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            data = f.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(first, last)`` of a single ``bytes=`` range; None to send the whole file (no header,
    or several ranges); ``"unsatisfiable"`` for a range outside the file."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(size - n, 0), size - 1
    a = int(first)
    b = min(int(last), size - 1) if last else size - 1
    if a >= size or b < a:
        return "unsatisfiable"
    return a, b


@member_required
def media(
    request: HttpRequest, did: str, call_id: str, kind: str
) -> HttpResponse | StreamingHttpResponse:
    number_or_404(request, did)
    if kind not in KINDS:
        raise Http404("no such media")
    with stores.calls() as calls:
        row = calls.call(did, call_id)
    if row is None or not row.get(kind) or row.get(f"{kind}_purged") is not None:
        raise Http404("no such media")
    path = _file(str(row[kind]))
    size = os.path.getsize(path)
    kind_type = TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    wanted = byte_range(request.headers.get("Range"), size)
    if wanted == "unsatisfiable":
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    first, last = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(last - first + 1, 0)
    response = streamed(
        request,
        lambda: _chunks(path, first, length),
        status=206 if isinstance(wanted, tuple) else 200,
        content_type=kind_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    if isinstance(wanted, tuple):
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response
