"""Uploaded files in storage, the same tests on both backends: the local folder and a real S3
server (SeaweedFS, started by the run like Redis), on SQLite and PostgreSQL.

Content addressing, the size limit, never public, the download's headers from either backend, the
file written before its row and orphans swept (never a row), an object store that does not
answer (a clear 503, nothing half-stored), and `storage migrate` from the folder to S3."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from services import storage
from services.db import db, utcnow
from services.models import Resume, ResumeStatus, ResumeVersion
from services.storage import sweep as storage_sweep
from services.storage.local import LocalStorage
from tests.conftest import ROOT, SeaweedFS, free_port
from tests.support_auth import csrf_token, sign_in
from tests.support_resumes import make_docx, make_pdf, submit, upload

BACKENDS = ["local", "s3"]
PASSWORD = "correct horse battery"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def use_storage(app: Any, settings: dict[str, Any]) -> storage.Storage:
    """Point the app at a storage (the next use makes the backend)."""
    app.config.update(settings)
    app.extensions.pop("storage", None)
    with app.app_context():
        return storage.current()


S3_KEYS = (
    "STORAGE_URL",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_ADDRESSING_STYLE",
    "S3_CONNECT_TIMEOUT_SECONDS",
    "S3_MAX_ATTEMPTS",
    "UPLOAD_DIR",
)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, app: Any, tmp_path: Path) -> Iterator[storage.Storage]:
    """The app's storage, a fresh one per test: a folder of its own, or a bucket of its own."""
    saved = {key: app.config.get(key) for key in S3_KEYS}
    settings: dict[str, Any] = {"UPLOAD_DIR": str(tmp_path / "uploads"), "STORAGE_URL": ""}
    if request.param == "s3":
        seaweed: SeaweedFS = request.getfixturevalue("seaweedfs")
        settings.update(seaweed.settings(seaweed.make_bucket()))
    yield use_storage(app, settings)
    use_storage(app, saved)


@pytest.fixture
def learner(make_user: Any) -> Any:
    return make_user("learner", name="Lena Learner")


def scratch_files(store: storage.Storage) -> list[Path]:
    return [p for p in store.scratch.iterdir() if p.is_file()]


def object_count(store: storage.Storage) -> int:
    return sum(1 for _ in store.objects())


# --- the backend itself ---------------------------------------------------------------------------


def test_objects_are_kept_whole_under_their_hash_once(store, tmp_path):
    data = make_pdf()
    sha = hashlib.sha256(data).hexdigest()
    source = tmp_path / "file"
    source.write_bytes(data)
    assert store.stat(sha) is None and not store.exists(sha)
    store.put(sha, source)
    first = store.stat(sha)
    assert first is not None and first.size == len(data)
    time.sleep(1.1)  # object stores keep whole seconds: the refresh must be visible
    store.put(sha, source)  # the same bytes again: kept once, its time refreshed
    again = store.stat(sha)
    assert again is not None and again.modified > first.modified
    assert [o.sha256 for o in store.objects()] == [sha]
    opened = store.open(sha)
    try:
        assert opened.size == len(data) and opened.stream.read() == data
    finally:
        opened.stream.close()
    assert store.read_hash(sha) == sha
    with store.local_copy(sha) as path:
        assert path.read_bytes() == data
    store.delete(sha)
    assert store.stat(sha) is None
    with pytest.raises(storage.ObjectMissing):
        store.open(sha)
    with pytest.raises(storage.ObjectMissing), store.local_copy(sha):
        pass
    store.delete(sha)  # deleting what is not there is no error
    assert scratch_files(store) == []


def test_names_are_only_hashes(store):
    with pytest.raises(ValueError, match="sha256"):
        store.stat("../../etc/passwd")
    with pytest.raises(ValueError, match="sha256"):
        store.open("A" * 64)


def test_nothing_is_served_from_a_public_place(store, seaweedfs):
    data = make_pdf()
    sha = hashlib.sha256(data).hexdigest()
    source = store.scratch / "upload-test"
    source.write_bytes(data)
    store.put(sha, source)
    if isinstance(store, LocalStorage):
        static = (ROOT / "static").resolve()
        assert static not in store.path(sha).resolve().parents
        assert oct(store.path(sha).stat().st_mode)[-3:] == "640"
    else:
        key = store.key(sha)  # type: ignore[attr-defined]
        anonymous = requests.get(
            f"{seaweedfs.endpoint}/{store.location.bucket}/{key}",  # type: ignore[attr-defined]
            timeout=10,
        )
        assert anonymous.status_code == 403
        assert data not in anonymous.content


# --- uploads and downloads through the service ----------------------------------------------------


def test_an_upload_is_stored_by_content_and_downloads_with_the_same_headers(
    client, store, learner, token_for
):
    token = token_for(learner)
    data = make_pdf()
    sha = hashlib.sha256(data).hexdigest()
    response = upload(client, token, data, name="Lena résumé.pdf")
    assert response.status_code == 201, response.json
    resume_id = response.json["id"]
    assert store.stat(sha) is not None
    version = db.session.scalar(select(ResumeVersion).where(ResumeVersion.resume_id == resume_id))
    assert version.sha256 == sha

    download = client.get(f"/api/v1/resumes/{resume_id}/file", headers=auth(token))
    assert download.status_code == 200
    assert download.data == data
    headers = download.headers
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Lena resume.pdf\"; filename*=UTF-8''Lena%20r%C3%A9sum%C3%A9.pdf"
    )
    assert headers["Content-Length"] == str(len(data))
    assert headers["ETag"] == f'"{sha}"'
    assert headers["Last-Modified"]
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"

    unchanged = client.get(
        f"/api/v1/resumes/{resume_id}/file",
        headers={**auth(token), "If-None-Match": f'"{sha}"'},
    )
    assert unchanged.status_code == 304 and unchanged.data == b""
    part = client.get(
        f"/api/v1/resumes/{resume_id}/file", headers={**auth(token), "Range": "bytes=5-14"}
    )
    assert part.status_code == 206
    assert part.data == data[5:15]
    assert part.headers["Content-Range"] == f"bytes 5-14/{len(data)}"

    # The learner's page serves the same bytes the same way.
    sign_in(client, learner.email, PASSWORD)
    page = client.get(f"/learn/resumes/{resume_id}/file")
    assert page.status_code == 200 and page.data == data
    assert page.headers["ETag"] == f'"{sha}"'
    assert page.headers["Content-Security-Policy"] == headers["Content-Security-Policy"]


def test_the_same_bytes_uploaded_twice_are_kept_once(client, store, learner, token_for):
    token = token_for(learner)
    data = make_docx()
    first = upload(client, token, data, name="cv.docx")
    second = upload(client, token, data, name="copy.docx")
    assert first.status_code == second.status_code == 201
    assert object_count(store) == 1
    assert scratch_files(store) == []


def test_a_job_description_file_goes_through_the_same_storage(client, store, learner, token_for):
    """The job's file is received like a résumé (sniffed, by content, into the store) and only its
    text is kept on the version; no row names it, so the orphan sweep removes it in time."""
    job = make_pdf(["Title: Machine Learning Engineer", "We need Python, PyTorch and Kubernetes."])
    response = client.post(
        "/api/v1/resumes",
        data={
            "target_role": "ML engineer",
            "file": (io.BytesIO(make_pdf()), "cv.pdf"),
            "job_file": (io.BytesIO(job), "job.pdf"),
        },
        headers=auth(token_for(learner)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert store.stat(hashlib.sha256(job).hexdigest()) is not None
    version = db.session.scalar(
        select(ResumeVersion).where(ResumeVersion.resume_id == response.json["id"])
    )
    assert "PyTorch and Kubernetes" in (version.job_description or "")
    assert object_count(store) == 2
    assert scratch_files(store) == []


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    client, app, store, learner, token_for, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    data = make_pdf() + b"%" + b"x" * (1024 * 1024)
    response = upload(client, token_for(learner), data)
    assert response.status_code == 413
    assert response.json["code"] == "file_too_large"
    assert object_count(store) == 0
    assert scratch_files(store) == []


def test_an_upload_the_write_would_refuse_keeps_nothing(client, store, learner, token_for):
    # The file is kept before the write transaction begins (no lock is held through a store), so
    # the refusals the write gives are checked before anything is kept.
    token = token_for(learner)
    response = upload(client, token, make_pdf(["No role"]), target_role="   ")
    assert response.status_code == 422
    assert "target_role" in response.json["errors"]
    assert object_count(store) == 0

    first = upload(client, token, make_pdf(["Version one"]))
    assert first.status_code == 201
    resume = db.session.get(Resume, first.json["id"])
    resume.status = ResumeStatus.IN_REVIEW  # a coach is reviewing it
    db.session.commit()
    second = client.post(
        f"/api/v1/resumes/{resume.id}/versions",
        data={"file": (io.BytesIO(make_pdf(["Version two"])), "v2.pdf")},
        headers=auth(token),
        content_type="multipart/form-data",
    )
    assert second.status_code == 409
    assert second.json["code"] == "review_in_progress"
    assert object_count(store) == 1  # version one's file only
    assert scratch_files(store) == []


def test_a_failed_commit_leaves_an_orphan_the_sweep_deletes_and_never_a_row(
    app, db_session, store, learner
):
    kept = submit(learner, make_pdf(["Kept résumé"]), "kept.pdf")
    db.session.commit()
    kept_sha = db.session.scalar(
        select(ResumeVersion.sha256).where(ResumeVersion.resume_id == kept.id)
    )
    before = db.session.scalar(select(func.count(Resume.id)))
    orphan_data = make_pdf(["Its commit failed"])
    orphan_sha = hashlib.sha256(orphan_data).hexdigest()
    submit(learner, orphan_data, "lost.pdf")
    db.session.rollback()  # the commit did not happen: the file is stored, no row names it
    assert db.session.scalar(select(func.count(Resume.id))) == before
    assert store.exists(orphan_sha)

    grace = storage_sweep.sweep(store, dt_hours(1))  # both are younger than the grace period
    assert grace.deleted == 0 and store.exists(orphan_sha)

    later = utcnow() + dt_hours(2)
    swept = storage_sweep.sweep(store, dt_hours(1), now=later)
    assert swept.deleted == 1
    assert not store.exists(orphan_sha)
    assert store.exists(kept_sha)  # a row names it: never swept
    assert storage_sweep.sweep(store, dt_hours(1), now=later).deleted == 0


def dt_hours(hours: float) -> Any:
    import datetime as dt

    return dt.timedelta(hours=hours)


def test_an_upload_found_stored_refreshes_the_object_so_the_sweep_spares_it(
    app, db_session, store, learner
):
    data = make_pdf(["Uploaded twice"])
    sha = hashlib.sha256(data).hexdigest()
    submit(learner, data, "a.pdf", "SRE")
    db.session.rollback()  # an orphan...
    first = store.stat(sha)
    assert first is not None
    time.sleep(1.1)
    submit(learner, data, "b.pdf", "SRE")
    # ...whose bytes are uploaded again: the sweep, at a time past the first upload's grace but
    # not the second's, keeps it for the row about to commit.
    again = store.stat(sha)
    assert again is not None and again.modified > first.modified
    result = storage_sweep.sweep(store, dt_hours(1), now=first.modified + dt_hours(1))
    assert result.deleted == 0 and store.exists(sha)
    db.session.commit()


# --- an object store that does not answer ---------------------------------------------------------


@pytest.fixture
def dead_store(app: Any, tmp_path: Path) -> Iterator[storage.Storage]:
    """S3 settings pointing at a loopback port nothing listens on (connection refused)."""
    saved = {key: app.config.get(key) for key in S3_KEYS}
    port = free_port()
    yield use_storage(
        app,
        {
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "STORAGE_URL": "s3://nowhere/uploads",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "S3_ACCESS_KEY_ID": "k",
            "S3_SECRET_ACCESS_KEY": "s",
            "S3_ADDRESSING_STYLE": "path",
            "S3_CONNECT_TIMEOUT_SECONDS": 1,
            "S3_MAX_ATTEMPTS": 1,
        },
    )
    use_storage(app, saved)


def test_storage_down_an_upload_is_a_clear_503_and_nothing_is_half_stored(
    client, dead_store, learner, token_for
):
    before = db.session.scalar(select(func.count(Resume.id)))
    response = upload(client, token_for(learner), make_pdf())
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == "storage_unavailable"
    assert "nothing was saved" in response.json["detail"]
    assert db.session.scalar(select(func.count(Resume.id))) == before
    assert scratch_files(dead_store) == []


def test_storage_down_a_job_description_file_is_a_clear_503_and_nothing_is_kept(
    client, dead_store, learner, token_for
):
    before = db.session.scalar(select(func.count(Resume.id)))
    response = client.post(
        "/api/v1/resumes",
        data={
            "target_role": "ML engineer",
            "file": (io.BytesIO(make_pdf()), "cv.pdf"),
            "job_file": (io.BytesIO(make_pdf(["Title: Data Engineer"])), "job.pdf"),
        },
        headers=auth(token_for(learner)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert response.json["code"] == "storage_unavailable"
    assert db.session.scalar(select(func.count(Resume.id))) == before
    assert scratch_files(dead_store) == []


def test_storage_down_the_upload_page_says_so_and_keeps_nothing(client, dead_store, learner):
    sign_in(client, learner.email, PASSWORD)
    before = db.session.scalar(select(func.count(Resume.id)))
    response = client.post(
        "/learn/resumes/new",
        data={
            "csrf_token": csrf_token(client, "/learn/resumes/new"),
            "target_role": "ML engineer",
            "file": (io.BytesIO(make_pdf()), "cv.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert "File storage is not answering right now" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Resume.id))) == before
    assert scratch_files(dead_store) == []


def test_storage_down_a_download_is_a_clear_503(app, client, store, learner, token_for):
    token = token_for(learner)
    resume_id = upload(client, token, make_pdf()).json["id"]
    saved = {key: app.config.get(key) for key in S3_KEYS}
    use_storage(
        app,
        {
            "STORAGE_URL": "s3://nowhere/uploads",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "S3_ACCESS_KEY_ID": "k",
            "S3_SECRET_ACCESS_KEY": "s",
            "S3_MAX_ATTEMPTS": 1,
        },
    )
    try:
        response = client.get(f"/api/v1/resumes/{resume_id}/file", headers=auth(token))
    finally:
        use_storage(app, saved)
    assert response.status_code == 503
    assert response.json["code"] == "storage_unavailable"


# --- migrating the folder to an object store ------------------------------------------------------


def flask_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_storage_migrate_copies_the_folder_to_s3_verifying_each_hash(
    seaweedfs, live_database, tmp_path
):
    upload_dir = tmp_path / "uploads"
    local = LocalStorage(str(upload_dir))
    shas = []
    for lines in (["One"], ["Two"], ["Three"]):
        data = make_pdf(lines)
        sha = hashlib.sha256(data).hexdigest()
        source = tmp_path / sha
        source.write_bytes(data)
        local.put(sha, source)
        shas.append(sha)
    bucket = seaweedfs.make_bucket()
    prefix = f"cs-{uuid.uuid4().hex[:8]}"
    s3 = seaweedfs.settings(bucket, prefix=prefix)
    env = {
        "DATABASE_URL": live_database,
        "UPLOAD_DIR": str(upload_dir),
        **{k: v for k, v in s3.items() if k != "STORAGE_URL"},
    }
    done = flask_cli(["storage", "migrate", "--to", s3["STORAGE_URL"]], env)
    assert done.returncode == 0, done.stderr
    assert "3 copied, 0 already there, each verified by its hash" in done.stdout
    client = seaweedfs.client()
    for sha in shas:
        body = client.get_object(Bucket=bucket, Key=f"{prefix}/objects/{sha[:2]}/{sha[2:4]}/{sha}")
        assert hashlib.sha256(body["Body"].read()).hexdigest() == sha

    # Again: nothing copied, all verified. A damaged local file is reported, and the run fails.
    damaged = local.path(shas[0])
    damaged.write_bytes(damaged.read_bytes() + b"tampered")
    again = flask_cli(["storage", "migrate", "--to", s3["STORAGE_URL"]], env)
    assert again.returncode == 1
    assert "0 copied, 2 already there" in again.stdout and "1 damaged" in again.stdout
    assert f"damaged: {shas[0]}" in again.stderr

    refused = flask_cli(["storage", "migrate", "--to", "s3://No_Such/x"], env)
    assert refused.returncode != 0 and "bucket name" in refused.stderr


def test_storage_migrate_to_a_store_that_does_not_answer_fails_clearly(live_database, tmp_path):
    env = {
        "DATABASE_URL": live_database,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "S3_ACCESS_KEY_ID": "k",
        "S3_SECRET_ACCESS_KEY": "s",
        "S3_MAX_ATTEMPTS": "1",
    }
    data = make_pdf()
    LocalStorage(env["UPLOAD_DIR"]).put(hashlib.sha256(data).hexdigest(), _file(tmp_path, data))
    done = flask_cli(["storage", "migrate", "--to", "s3://somewhere/x"], env)
    assert done.returncode == 1
    assert "File storage is not answering" in done.stderr


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"f-{hashlib.sha256(data).hexdigest()[:8]}"
    path.write_bytes(data)
    return path
