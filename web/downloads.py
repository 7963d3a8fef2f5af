"""Résumé files going out: as attachments, never rendered as one of our pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from flask import Response, abort, request, send_file
from flask_login import current_user

from services import resumes, storage
from services.db import utcnow
from services.errors import NotFound
from services.models import ResumeVersion

# A downloaded résumé can never run as a page of ours: no sniffing, and if a browser renders it
# anyway, a sandbox without scripts, forms or same-origin access.
DOWNLOAD_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"


def attachment(
    opened: storage.Opened,
    content_type: str,
    filename: str,
    *,
    sha256: str,
    modified: dt.datetime,
) -> Response:
    """A stored file as a download, streamed from whichever storage holds it, with the same
    headers from either: RFC 6266 file name (ASCII fallback and UTF-8 `filename*`), its length,
    the content hash as a strong ETag (it names the bytes) and the upload's time as Last-Modified
    (so conditional and range requests work alike), nosniff, and a sandbox CSP in case a browser
    renders it anyway."""
    response = send_file(
        opened.stream,
        mimetype=content_type,
        as_attachment=True,
        download_name=filename,
        conditional=False,
        etag=sha256,
        last_modified=modified,
        max_age=0,
    )
    response.content_length = opened.size
    response.make_conditional(request, accept_ranges=True, complete_length=opened.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def generated(data: bytes, content_type: str, filename: str) -> Response:
    """Bytes made for this request (an export) as a download, with the same headers as a stored
    file: its hash as the ETag, now as Last-Modified."""
    return attachment(
        storage.Opened(io.BytesIO(data), len(data)),
        content_type,
        filename,
        sha256=hashlib.sha256(data).hexdigest(),
        modified=utcnow(),
    )


def version_file(opened: storage.Opened, version: ResumeVersion) -> Response:
    """A résumé version's stored bytes as a download."""
    return attachment(
        opened,
        version.content_type,
        version.filename,
        sha256=version.sha256,
        modified=version.uploaded_at,
    )


def resume_file(resume_id: int) -> Response:
    """For the pages: a résumé's file (``?version=N``, default the current one) as the signed-in
    user may see it (the owner, the assigned coach, staff); 404 otherwise."""
    try:
        opened, version = resumes.file_of(
            current_user, resume_id, request.args.get("version", type=int)
        )
    except NotFound:
        abort(404)
    return version_file(opened, version)
