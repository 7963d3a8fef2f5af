"""Every streamed or file answer, downloaded through a real gunicorn (the Procfile's settings) with
a real HTTP client, on SQLite and PostgreSQL: the staff CSV exports (their body runs after the
view has returned, in a session other than the view's, which the in-process test client never
shows), a résumé's file (the learner's, coach's and staff pages, and the API), a booking's ``.ics``
(page and API) and a coach's calendar feed."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import create_engine, delete, select, text, update

from services import booking as booking_service
from services.db import db, utcnow, write_intent, writer
from services.models import Booking, Resume, ResumeVersion, StaffAction, User
from services.resumes import queue
from tests.support_auth import committed_user, csrf_token, sign_in
from tests.support_booking import insert_booking, seed_types
from tests.support_resumes import make_pdf
from tests.support_server import HttpClient
from tests.support_staff import bulk_resumes, make_resume

PASSWORD = "correct horse battery"


def signed_in(base_url: str, user: User) -> HttpClient:
    client = HttpClient(base_url)
    sign_in(client, user.email, PASSWORD)  # staff enrol in two-factor on the way
    assert client.get("/account/security").status_code == 200
    return client


def exports_by(staff_id: int) -> list[StaffAction]:
    db.session.rollback()  # a fresh look: the server commits in its own processes
    return list(
        db.session.scalars(
            select(StaffAction).where(StaffAction.actor_id == staff_id).order_by(StaffAction.id)
        )
    )


@contextlib.contextmanager
def audit_log_held(database_url: str) -> Iterator[None]:
    """Hold what an audit entry's insert waits for, from a connection of the test's own: the
    write lock on SQLite, the staff_action table on PostgreSQL (reads go on meanwhile)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            token = write_intent.set(True)  # this connection's transaction: BEGIN IMMEDIATE
            try:
                conn.execute(text("SELECT 1"))
            finally:
                write_intent.reset(token)
        else:
            conn.execute(text("LOCK TABLE staff_action IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def read_records(chunks: Iterator[bytes], count: int) -> list[list[str]]:
    """The first ``count`` CSV records of a streamed body (its ``iter_content``), reading no
    further than needed. Read the rest from the same iterator: one dropped half way closes the
    connection (urllib3), as a client that gives up would."""
    buffer = b""
    while buffer.count(b"\r\n") < count:
        buffer += next(chunks)
    return list(csv.reader(io.StringIO(buffer.decode())))


def test_queue_csv_through_gunicorn_is_whole_and_audited_only_once_finished(
    live_server, live_database, live_ctx
):
    staff = committed_user("staff", name="Sam Staff")
    learner = committed_user("learner", name="Lena Learner")
    # More than two batches of the export (EXPORT_BATCH = 200), and more than one 64 KiB chunk.
    bulk_resumes(learner.id, 450)
    formula = make_resume(learner, target_role='=HYPERLINK("http://x")')
    db.session.commit()
    expected = set(db.session.scalars(select(Resume.id)))
    client = signed_in(live_server, staff)

    with audit_log_held(live_database):
        response = client.stream("/staff/queue.csv?status=all&sort=oldest")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert response.headers["Content-Disposition"] == 'attachment; filename="queue.csv"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Transfer-Encoding"] == "chunked"
        # Every row has come, but the transfer is not over: its audit entry waits for the lock.
        chunks = response.iter_content(chunk_size=None)
        rows = read_records(chunks, len(expected) + 1)
        assert exports_by(staff.id) == []
    rest = b"".join(chunks)  # the end of the transfer comes once the export is recorded
    assert rest == b""
    response.close()

    assert rows[0][:3] == ["id", "status", "target_role"]
    ids = [int(r[0]) for r in rows[1:]]
    assert len(ids) == len(set(ids)) and set(ids) == expected  # each once, none missing
    by_id = {int(r[0]): r for r in rows[1:]}
    assert by_id[formula.id][2] == '\'=HYPERLINK("http://x")'
    assert by_id[formula.id][3] == "Lena Learner"
    [entry] = exports_by(staff.id)
    assert entry.action == "export.queue"
    assert entry.detail["rows"] == len(expected)
    assert entry.detail["filters"]["status"] == "all"


def test_sessions_csv_through_gunicorn_has_every_session_and_is_audited(live_server, live_ctx):
    staff = committed_user("staff", name="Sam Staff")
    learner = committed_user("learner", name="Lena Learner")
    coach = committed_user("coach", name="Ada Coach")
    seed_types()
    starts = [utcnow() + dt.timedelta(days=d, hours=1) for d in (1, 2, 3)]
    made = [insert_booking(learner.id, coach.id, start).id for start in starts]
    client = signed_in(live_server, staff)

    response = client.get(f"/staff/sessions.csv?coach_id={coach.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="sessions.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["id", "status", "type", "start"]
    assert [int(r[0]) for r in rows[1:]] == made  # soonest first
    assert {(r[5], r[6], r[7]) for r in rows[1:]} == {("Ada Coach", "Lena Learner", learner.email)}
    [entry] = exports_by(staff.id)
    assert entry.action == "export.bookings"
    assert entry.detail["rows"] == 3 and entry.detail["filters"]["coach_id"] == coach.id


def test_an_export_failing_half_way_is_a_broken_transfer_and_not_audited(live_server, live_ctx):
    staff = committed_user("staff", name="Sam Staff")
    learner = committed_user("learner", name="Lena Learner")
    bulk_resumes(learner.id, 600)  # some 100 KiB of rows: the first chunk is out before the fault
    broken = make_resume(learner, target_role="Data scientist")  # queued last: exported last
    # A fault the export meets half way: the résumé's current version has no row.
    db.session.execute(update(Resume).where(Resume.id == broken.id).values(current_version=2))
    db.session.commit()
    client = signed_in(live_server, staff)
    try:
        response = client.stream("/staff/queue.csv?status=all&sort=oldest")
        assert response.status_code == 200  # the answer had begun when the fault came
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(response.iter_content(chunk_size=None))
        response.close()
        assert exports_by(staff.id) == []
    finally:
        db.session.rollback()
        db.session.execute(delete(ResumeVersion).where(ResumeVersion.resume_id == broken.id))
        db.session.execute(delete(Resume).where(Resume.id == broken.id))
        db.session.commit()


def upload_resume(client: HttpClient, body: bytes) -> int:
    token = csrf_token(client, "/learn/resumes/new")
    response = client.post(
        "/learn/resumes/new",
        data={"target_role": "ML engineer", "notes": "", "csrf_token": token},
        files={"file": ("Lena’s CV.pdf", body, "application/pdf")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/learn/resumes/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def bearer(base_url: str, user: User) -> dict[str, str]:
    token = HttpClient(base_url).post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}
    )
    assert token.status_code == 201
    return {"Authorization": f"Bearer {token.raw.json()['token']}"}


def test_a_resume_file_through_gunicorn_is_the_upload_as_an_attachment(live_server, live_ctx):
    learner = committed_user("learner", name="Lena Learner")
    staff = committed_user("staff", name="Sam Staff")
    coach = committed_user("coach", name="Ada Coach")
    body = make_pdf()
    resume_id = upload_resume(signed_in(live_server, learner), body)
    db.session.commit()
    with writer():  # the server writes too: on SQLite this transaction queues for the lock
        queue.assign(staff, resume_id, coach.id, "live download test")  # offered to Ada
        db.session.commit()
    learner_client = signed_in(live_server, learner)
    for client, path, headers in (
        (learner_client, f"/learn/resumes/{resume_id}/file", {}),
        (signed_in(live_server, staff), f"/staff/resumes/{resume_id}/file", {}),
        (signed_in(live_server, coach), f"/coach/reviews/{resume_id}/file", {}),
        (
            HttpClient(live_server),
            f"/api/v1/resumes/{resume_id}/file",
            bearer(live_server, learner),
        ),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert response.get_data() == body
        assert response.headers["Content-Type"] == "application/pdf"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''Lena%E2%80%99s%20CV.pdf" in disposition
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert response.headers["Content-Length"] == str(len(body))
    assert learner_client.get(f"/learn/resumes/{resume_id + 1000}/file").status_code == 404


def test_a_bookings_ics_and_the_coachs_feed_through_gunicorn(live_server, live_ctx):
    learner = committed_user("learner", name="Lena Learner")
    coach = committed_user("coach", name="Ada Coach")
    seed_types()
    booking = insert_booking(learner.id, coach.id, utcnow() + dt.timedelta(days=2))
    uid = booking.uid
    feed = booking_service.create_feed(coach.id)
    db.session.commit()

    page = signed_in(live_server, learner).get(f"/learn/bookings/{booking.id}/calendar.ics")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/calendar")
    assert page.headers["Content-Disposition"] == (
        f'attachment; filename="mock-interview-{booking.id}.ics"'
    )
    ics = page.get_data(as_text=True)
    assert ics.startswith("BEGIN:VCALENDAR") and f"UID:{uid}" in ics

    api = HttpClient(live_server).get(
        f"/api/v1/bookings/{booking.id}/ics", headers=bearer(live_server, learner)
    )
    assert api.status_code == 200 and api.headers["Content-Type"].startswith("text/calendar")
    assert f"UID:{uid}" in api.get_data(as_text=True)

    subscribed = HttpClient(live_server).get(f"/api/v1/calendar-feeds/{feed}.ics")
    assert subscribed.status_code == 200
    assert subscribed.headers["Content-Type"].startswith("text/calendar")
    assert f"UID:{uid}" in subscribed.get_data(as_text=True)
    assert HttpClient(live_server).get("/api/v1/calendar-feeds/not-a-feed.ics").status_code == 404
    assert db.session.get(Booking, booking.id) is not None
