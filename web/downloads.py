"""Résumé files going out: as attachments, never rendered as one of our pages."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request, send_file
from flask_login import current_user

from services import resumes
from services.errors import NotFound

# A downloaded résumé can never run as a page of ours: no sniffing, and if a browser renders it
# anyway, a sandbox without scripts, forms or same-origin access.
DOWNLOAD_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"


def attachment(path: Any, content_type: str, filename: str) -> Response:
    """A stored file as a download: RFC 6266 file name (ASCII fallback and UTF-8 `filename*`),
    nosniff, and a sandbox CSP in case a browser renders it anyway."""
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=True,
        download_name=filename,
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def resume_file(resume_id: int) -> Response:
    """For the pages: a résumé's file (``?version=N``, default the current one) as the signed-in
    user may see it (the owner, the assigned coach, staff); 404 otherwise."""
    try:
        path, version = resumes.file_of(
            current_user, resume_id, request.args.get("version", type=int)
        )
    except NotFound:
        abort(404)
    return attachment(path, version.content_type, version.filename)
