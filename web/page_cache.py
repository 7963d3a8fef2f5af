"""Whole pages as every anonymous visitor sees them, rendered once per content version per process.

A public page (home, FAQ) is the same for everyone who is not signed in, until staff edit what it
shows. ``anonymous_page`` renders it for the first such visitor under the content's key (the
versions of the pages it shows) and serves the same bytes to the next, with an ``ETag`` so a
browser's revalidation is answered 304. A visitor who is signed in, or whose session holds a
message to show, gets the page rendered for them, as before, without an ETag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable

from flask import Response, request, session

# How late an anonymous visitor may see a page's edit made in another process: the content's
# versions are read at most once per this many seconds per process for them (a signed-in visitor's
# page, and the process that saved the edit, read them at once).
SHARED_MAX_AGE = 1.0

# endpoint -> (content key, ETag, body); one entry per page, replaced when its content moves on.
_pages: dict[str, tuple[Hashable, str, bytes]] = {}


def shared() -> bool:
    """The visitor sees what every anonymous visitor sees: not signed in, no message waiting."""
    return "_user_id" not in session and "_flashes" not in session


def vary_on_cookie(response: Response) -> None:
    """Tell caches the answer depends on the cookie (one header set where none is yet: werkzeug's
    ``response.vary`` parses and writes the header again on each change)."""
    if "Vary" in response.headers:
        response.vary.add("Cookie")
    else:
        response.headers["Vary"] = "Cookie"


def content_max_age() -> float:
    """How old the content's versions may be for this visitor (seconds)."""
    return SHARED_MAX_AGE if shared() else 0.0


def anonymous_page(key: Hashable, render: Callable[[], str]) -> Response | str:
    """The page under ``key`` (what its content is known by); ``render`` makes it."""
    if not shared():
        return render()
    endpoint = str(request.endpoint)
    key = (key, request.script_root)
    cached = _pages.get(endpoint)
    if cached is None or cached[0] != key:
        html = render()
        if session.modified:
            return html  # rendering put something in this visitor's session: not for sharing
        body = html.encode()
        cached = (key, hashlib.sha256(body).hexdigest()[:32], body)
        _pages[endpoint] = cached
    _, etag, body = cached
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="text/html")
    response.set_etag(etag)
    # A cache may keep it, asks again each time (answered 304 while it is current), and keeps it
    # apart from what a signed-in visitor's cookie gets.
    response.headers["Cache-Control"] = "no-cache"
    vary_on_cookie(response)
    return response
