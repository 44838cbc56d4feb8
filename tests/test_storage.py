"""The file store: streamed, hashed, atomic, and consistent with the database."""

from __future__ import annotations

import hashlib
import io

import pytest

from portal.exceptions import UploadError
from portal.extensions import db
from portal.storage import FileStore, get_store


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_receive_hashes_and_sizes_the_stream(tmp_path):
    store = FileStore(tmp_path)
    data = b"x" * 200_000
    received = store.receive(io.BytesIO(data), max_bytes=1_000_000)
    assert received.size == len(data)
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert received.temp_path.read_bytes() == data
    store.discard(received)
    assert _files(tmp_path) == []


def test_receive_over_limit_stops_and_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)

    class Endless(io.RawIOBase):
        reads = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            self.reads += 1
            buffer[:] = b"a" * len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(UploadError, match="larger than the 0.5 MB limit"):
        store.receive(io.BufferedReader(stream), max_bytes=512 * 1024)
    assert stream.reads < 20  # stopped at the limit, not at the end of the stream
    assert _files(tmp_path) == []


def test_receive_empty_refused(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(UploadError, match="The file is empty"):
        store.receive(io.BytesIO(b""), max_bytes=10)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "abc", "g" * 32, "A" * 32])
def test_path_refuses_anything_but_a_key(tmp_path, key):
    with pytest.raises(ValueError):
        FileStore(tmp_path).path(key)


def test_place_then_commit_keeps_file(app):
    with app.app_context():
        store = get_store()
        key = store.place(store.receive(io.BytesIO(b"kept"), max_bytes=100), db.session())
        db.session.commit()
        with store.open(key) as fh:
            assert fh.read() == b"kept"
        assert store.incoming() == []


def test_place_then_rollback_removes_file(app):
    with app.app_context():
        store = get_store()
        key = store.place(store.receive(io.BytesIO(b"dropped"), max_bytes=100), db.session())
        assert store.exists(key)
        db.session.rollback()
        assert not store.exists(key)


def test_place_then_session_closed_without_commit_removes_file(app):
    with app.app_context():
        store = get_store()
        key = store.place(store.receive(io.BytesIO(b"dropped"), max_bytes=100), db.session())
        db.session.remove()  # as at the end of a request that never committed
        assert not store.exists(key)
