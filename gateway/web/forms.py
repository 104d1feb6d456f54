"""A form body, read as aiohttp reads it, where every way of being unreadable is one 400.

`request.post()` raises ValueError for a malformed body, UnicodeDecodeError (a ValueError)
for a multipart text field whose bytes are not UTF-8, and LookupError for a charset Python
does not know (`charset=bogus`): each was a 500 on a page that did not catch it. A field
holding NUL (`%00`) is refused too: PostgreSQL's text holds none, and the dashboard's
Resume and Retry forms handed it to the store, a 500 there.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from gateway.web.deadline import body_deadline


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    try:
        async with body_deadline(request):
            form = await request.post()
    except (ValueError, LookupError) as exc:
        raise web.HTTPBadRequest(text="the form could not be read") from exc
    if any(isinstance(value, str) and "\x00" in value for value in form.values()):
        raise web.HTTPBadRequest(text="the form holds NUL (%00)")  # see the module's text
    return form
