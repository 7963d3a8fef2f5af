"""The local backend: a folder (``UPLOAD_DIR``) on one machine, outside every served folder."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from services.storage import ObjectInfo, ObjectMissing, Opened, Storage, object_name

# The project's folders that the web server serves (static files) or renders (templates).
_PROJECT = Path(__file__).resolve().parents[2]
SERVED = (_PROJECT / "static", _PROJECT / "templates")


def storage_root(upload_dir: str) -> Path:
    """The upload folder, made if needed; never inside a folder the web server serves."""
    root = Path(upload_dir).resolve()
    for served in SERVED:
        if root == served.resolve() or served.resolve() in root.parents:
            raise RuntimeError(f"UPLOAD_DIR {root} is inside the served folder {served}")
    for sub in ("objects", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True, mode=0o750)
    return root


def _info(sha256: str, path: Path) -> ObjectInfo:
    st = path.stat()
    return ObjectInfo(sha256, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))


class LocalStorage(Storage):
    def __init__(self, upload_dir: str) -> None:
        self.root = storage_root(upload_dir)
        self.url = str(self.root)

    @property
    def scratch(self) -> Path:
        return self.root / "tmp"

    def path(self, sha256: str) -> Path:
        return self.root / object_name(sha256)

    def put(self, sha256: str, source: Path) -> None:
        final = self.path(sha256)
        if final.exists():
            os.utime(final)  # the sweep's grace period runs from now: a row is about to name it
            return
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if source.parent == self.scratch:
            source.chmod(0o640)
            os.replace(source, final)  # atomic: the object is whole or absent
            return
        part = self.scratch / f"put-{sha256}-{os.getpid()}"
        try:
            with source.open("rb") as src, part.open("wb") as out:
                while chunk := src.read(1024 * 1024):
                    out.write(chunk)
            part.chmod(0o640)
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)

    def open(self, sha256: str) -> Opened:
        path = self.path(sha256)
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise ObjectMissing("The file of this version is missing from storage.") from None
        return Opened(stream, os.fstat(stream.fileno()).st_size)

    def local_copy(self, sha256: str) -> AbstractContextManager[Path]:
        path = self.path(sha256)
        if not path.is_file():
            raise ObjectMissing("The file of this version is missing from storage.")
        return nullcontext(path)

    def stat(self, sha256: str) -> ObjectInfo | None:
        path = self.path(sha256)
        try:
            return _info(sha256, path)
        except FileNotFoundError:
            return None

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def objects(self) -> Iterator[ObjectInfo]:
        for path in (self.root / "objects").glob("??/??/*"):
            if path.is_file() and len(path.name) == 64:
                try:
                    yield _info(path.name, path)
                except FileNotFoundError:
                    continue
