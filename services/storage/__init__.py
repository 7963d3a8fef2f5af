"""Where uploaded bytes live: one interface, two backends (a local folder, any S3-compatible
object store), the same content addressing on both.

Every object is named by the SHA-256 of its bytes, ``objects/aa/bb/<sha256>`` under the backend's
root (the folder ``UPLOAD_DIR``, or ``s3://bucket/prefix``), so the same bytes are kept once and a
name can never point at other bytes. Objects are written before the row that names them commits;
an object no row names (its commit failed, or its rows were deleted) is swept after a grace period
(services/storage/sweep.py), never the reverse.

Neither backend serves anything itself: the local folder is refused inside a served folder, the S3
objects are written private (no ACL, no public URL; the bucket must not be public), and the web
streams them through the download route with its own headers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from services.errors import DomainError, NotFound

if TYPE_CHECKING:
    from flask import Flask

CHUNK = 64 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StorageUnavailable(DomainError):
    """The object store does not answer (or refuses us): nothing was stored (HTTP 503)."""

    code = "storage_unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail
            or "File storage is not answering right now, so nothing was saved. "
            "Try again in a minute."
        )


class ObjectMissing(NotFound):
    """A row names an object the store does not have."""


@dataclass(frozen=True)
class ObjectInfo:
    sha256: str
    size: int
    modified: dt.datetime  # aware, UTC


@dataclass
class Opened:
    """An object opened for reading: a binary stream (close it) and its size."""

    stream: BinaryIO
    size: int


def check_sha256(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


def object_name(sha256: str) -> str:
    """The object's name under a backend's root: the same on every backend."""
    check_sha256(sha256)
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Storage(ABC):
    """What the service needs of a place to keep files."""

    #: where it keeps them, for messages: a folder or ``s3://bucket/prefix``
    url: str

    @property
    @abstractmethod
    def scratch(self) -> Path:
        """A local folder for uploads being received (one host's own, never shared)."""

    @abstractmethod
    def put(self, sha256: str, source: Path) -> None:
        """Keep ``source`` (whose bytes hash to ``sha256``) as that object, whole or not at all.
        If the object is there already, only its time is refreshed (so the orphan sweep's grace
        period covers the row about to name it). Raises StorageUnavailable."""

    @abstractmethod
    def open(self, sha256: str) -> Opened:
        """The object's bytes as a stream. Raises ObjectMissing, StorageUnavailable."""

    @abstractmethod
    def local_copy(self, sha256: str) -> AbstractContextManager[Path]:
        """A local file with the object's bytes for the block's duration (for a parser that
        wants a path). Raises ObjectMissing, StorageUnavailable."""

    @abstractmethod
    def stat(self, sha256: str) -> ObjectInfo | None:
        """The object's size and time, None if there is none. Raises StorageUnavailable."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the object (nothing if it is not there). Raises StorageUnavailable."""

    @abstractmethod
    def objects(self) -> Iterator[ObjectInfo]:
        """Every object kept. Raises StorageUnavailable."""

    def sweep_scratch(self, older_than: dt.datetime) -> int:
        """Remove scratch files a crashed upload left, older than ``older_than``."""
        removed = 0
        cutoff = older_than.timestamp()
        for path in self.scratch.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def exists(self, sha256: str) -> bool:
        return self.stat(sha256) is not None

    def read_hash(self, sha256: str) -> str:
        """The SHA-256 of the bytes the store returns for the object (to verify a copy)."""
        opened = self.open(sha256)
        digest = hashlib.sha256()
        try:
            while chunk := opened.stream.read(CHUNK):
                digest.update(chunk)
        finally:
            opened.stream.close()
        return digest.hexdigest()


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "some/prefix" (no slashes at either end)


def parse_url(url: str) -> S3Location:
    """``s3://bucket/prefix`` as bucket and prefix. Raises ValueError with a reason."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc or ""):
        raise ValueError(
            f"{url!r}: the bucket name must be 3 to 63 lowercase letters, digits, dots or dashes"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: an s3:// URL takes no query or fragment")
    return S3Location(bucket=parts.netloc, prefix=parts.path.strip("/"))


def from_config(cfg: Any) -> Storage:
    """The backend the settings name: ``STORAGE_URL=s3://…`` or the folder ``UPLOAD_DIR``."""
    url = str(cfg.get("STORAGE_URL") or "")
    upload_dir = str(cfg["UPLOAD_DIR"])
    if not url:
        from services.storage.local import LocalStorage

        return LocalStorage(upload_dir)
    from services.storage.s3 import S3Settings, S3Storage

    return S3Storage(parse_url(url), S3Settings.from_config(cfg), scratch=Path(upload_dir) / "tmp")


def init_app(app: Flask) -> None:
    """The app's storage is made on first use (after gunicorn or Celery forked: a client per
    process)."""
    app.extensions.pop("storage", None)


def current() -> Storage:
    """The current app's storage backend."""
    from flask import current_app

    made = current_app.extensions.get("storage")
    if made is None or made[0] != os.getpid():  # a process forked from one that had made it
        made = current_app.extensions["storage"] = (os.getpid(), from_config(current_app.config))
    store = made[1]
    assert isinstance(store, Storage)
    return store
