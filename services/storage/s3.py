"""The S3 backend: any S3-compatible object store (AWS S3, MinIO, Ceph RGW, SeaweedFS) through
boto3, at ``STORAGE_URL=s3://bucket/prefix``.

Objects are written private (no ACL is ever sent, so the bucket's own private default holds), each
in one PUT that S3 makes visible whole or not at all, with the SHA-256 the store checks on arrival
(``x-amz-checksum-sha256``): a store that drops mid-upload keeps nothing half-written.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.storage import (
    CHUNK,
    ObjectInfo,
    ObjectMissing,
    Opened,
    S3Location,
    Storage,
    StorageUnavailable,
    check_sha256,
    object_name,
)

log = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    addressing_style: str
    connect_timeout: float
    read_timeout: float
    max_attempts: int

    @classmethod
    def from_config(cls, cfg: Any) -> S3Settings:
        return cls(
            endpoint_url=cfg.get("S3_ENDPOINT_URL") or None,
            region=cfg.get("S3_REGION") or "us-east-1",
            access_key_id=cfg.get("S3_ACCESS_KEY_ID") or None,
            secret_access_key=cfg.get("S3_SECRET_ACCESS_KEY") or None,
            addressing_style=cfg.get("S3_ADDRESSING_STYLE") or "auto",
            connect_timeout=float(cfg.get("S3_CONNECT_TIMEOUT_SECONDS", 2)),
            read_timeout=float(cfg.get("S3_READ_TIMEOUT_SECONDS", 30)),
            max_attempts=int(cfg.get("S3_MAX_ATTEMPTS", 3)),
        )

    def client(self) -> Any:
        """A boto3 S3 client; without keys set here, boto3's own chain (AWS_* variables, an
        instance profile) supplies them."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": self.addressing_style},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                max_pool_connections=32,
            ),
        )


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code")) in _MISSING or status == 404


@contextlib.contextmanager
def _answering(what: str, url: str) -> Iterator[None]:
    """Any failure to reach the store, or a refusal by it, as StorageUnavailable (logged)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        log.warning("object store %s: %s failed: %s %s", url, what, error.get("Code"), exc)
        raise StorageUnavailable() from exc
    except BotoCoreError as exc:
        log.warning("object store %s: %s failed: %s", url, what, exc)
        raise StorageUnavailable() from exc


class _Body:
    """botocore's streaming body as a plain binary stream that translates a dropped connection."""

    def __init__(self, body: Any, url: str) -> None:
        self._body = body
        self._url = url

    def read(self, size: int = -1) -> bytes:
        with _answering("read", self._url):
            return cast(bytes, self._body.read(size if size >= 0 else None))

    def close(self) -> None:
        self._body.close()


class S3Storage(Storage):
    def __init__(self, location: S3Location, settings: S3Settings, *, scratch: Path) -> None:
        self.location = location
        self.settings = settings
        self.client = settings.client()
        self.url = f"s3://{location.bucket}/{location.prefix}".rstrip("/")
        self._scratch = scratch

    @property
    def scratch(self) -> Path:
        self._scratch.mkdir(parents=True, exist_ok=True, mode=0o750)
        return self._scratch

    def key(self, sha256: str) -> str:
        name = object_name(sha256)
        return f"{self.location.prefix}/{name}" if self.location.prefix else name

    def _head(self, sha256: str) -> dict[str, Any] | None:
        try:
            return cast(
                dict[str, Any],
                self.client.head_object(Bucket=self.location.bucket, Key=self.key(sha256)),
            )
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def put(self, sha256: str, source: Path) -> None:
        key = self.key(sha256)
        bucket = self.location.bucket
        with _answering("put", self.url):
            if self._head(sha256) is not None:
                # Copied onto itself: the same bytes, a new time (the orphan sweep's grace).
                self.client.copy_object(
                    Bucket=bucket,
                    Key=key,
                    CopySource={"Bucket": bucket, "Key": key},
                    MetadataDirective="REPLACE",
                    Metadata={"sha256": sha256},
                    ContentType=OCTET_STREAM,
                )
                return
            checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
            with source.open("rb") as body:
                self.client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentLength=source.stat().st_size,
                    ContentType=OCTET_STREAM,
                    Metadata={"sha256": sha256},
                    ChecksumSHA256=checksum,
                )

    def open(self, sha256: str) -> Opened:
        with _answering("get", self.url):
            try:
                answer = self.client.get_object(Bucket=self.location.bucket, Key=self.key(sha256))
            except ClientError as exc:
                if _missing(exc):
                    raise ObjectMissing(
                        "The file of this version is missing from storage."
                    ) from None
                raise
        return Opened(cast(BinaryIO, _Body(answer["Body"], self.url)), int(answer["ContentLength"]))

    @contextlib.contextmanager
    def local_copy(self, sha256: str) -> Iterator[Path]:
        check_sha256(sha256)
        opened = self.open(sha256)
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=f"copy-{sha256[:12]}-")
        path = Path(name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                try:
                    while chunk := opened.stream.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                finally:
                    opened.stream.close()
            if digest.hexdigest() != sha256:
                log.error("object store %s: object %s does not hash to its name", self.url, sha256)
                raise StorageUnavailable("The stored file is damaged; it could not be read.")
            yield path
        finally:
            path.unlink(missing_ok=True)

    def stat(self, sha256: str) -> ObjectInfo | None:
        with _answering("head", self.url):
            head = self._head(sha256)
        if head is None:
            return None
        return ObjectInfo(sha256, int(head["ContentLength"]), _aware(head["LastModified"]))

    def delete(self, sha256: str) -> None:
        with _answering("delete", self.url):
            self.client.delete_object(Bucket=self.location.bucket, Key=self.key(sha256))

    def objects(self) -> Iterator[ObjectInfo]:
        prefix = self.key("0" * 64).rsplit("objects/", 1)[0] + "objects/"
        with _answering("list", self.url):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    sha = str(item["Key"]).rsplit("/", 1)[-1]
                    if len(sha) == 64:
                        yield ObjectInfo(sha, int(item["Size"]), _aware(item["LastModified"]))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
