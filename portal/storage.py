"""The file store: uploaded bytes on disk under random keys, outside `static/`.

Files are streamed to a temporary file with their SHA-256 computed on the way,
then moved into place atomically (`os.replace`). A file placed during a database
transaction is deleted again if that transaction ends without a commit.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm

from portal.exceptions import UploadError

CHUNK_SIZE = 1 << 16
_NEW_FILES = "portal_new_files"


@dataclass(frozen=True)
class ReceivedFile:
    """An upload written to a temporary file, not yet in the store."""

    temp_path: Path
    size: int
    sha256: str


class FileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def receive(self, stream: BinaryIO, *, max_bytes: int) -> ReceivedFile:
        """Stream `stream` to a temporary file in the store, hashing as it goes.

        Raises UploadError if the stream is empty or longer than `max_bytes`
        (reading stops at the first byte over the limit); nothing is left on disk then.
        """
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        temp_path = incoming / f"{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with temp_path.open("wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    size += len(chunk)
                    if size > max_bytes:
                        raise UploadError(
                            f"The file is larger than the {megabytes(max_bytes)} limit. "
                            "Please upload a smaller file.",
                            field="document",
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise UploadError("The file is empty. Please choose the document to upload.", field="document")
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        return ReceivedFile(temp_path=temp_path, size=size, sha256=digest.hexdigest())

    def place(self, received: ReceivedFile, session: orm.Session) -> str:
        """Move a received file into the store under a new random key and return the key.

        The file is removed again if `session`'s transaction ends without a commit.
        """
        key = uuid.uuid4().hex
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(received.temp_path, final)
        if not session.in_transaction():
            session.begin()  # so that a rollback, even before any SQL, fires the cleanup
        session.info.setdefault(_NEW_FILES, []).append(final)
        return key

    def discard(self, received: ReceivedFile) -> None:
        received.temp_path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[str]:
        """Every key in the store (for sweeping orphans)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if path.is_file() and len(path.name) == 32:
                yield path.name

    def incoming(self) -> list[Path]:
        """Temporary files of uploads in progress (or abandoned by a crash)."""
        folder = self.root / "incoming"
        return sorted(folder.glob("*.part")) if folder.is_dir() else []

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def get_store() -> FileStore:
    """The store configured for the current app (PORTAL_STORAGE_DIR)."""
    return FileStore(current_app.config["PORTAL_STORAGE_DIR"])


def megabytes(n: int) -> str:
    """A size limit for people to read, e.g. "25 MB" or "0.0625 MB"."""
    return f"{n / (1024 * 1024):g} MB"


@sa.event.listens_for(orm.Session, "after_commit")
def _keep_new_files(session: orm.Session) -> None:
    session.info.pop(_NEW_FILES, None)


@sa.event.listens_for(orm.Session, "after_transaction_end")
def _drop_uncommitted_files(session: orm.Session, transaction: Any) -> None:
    if transaction.parent is None and not transaction.nested:
        for path in session.info.pop(_NEW_FILES, []):
            Path(path).unlink(missing_ok=True)
