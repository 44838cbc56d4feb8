"""A private PostgreSQL database next to a server URL's, created for a block and dropped after.

Test runs, xdist workers and benchmarks share one server without touching each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def private_database(server_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """The URL of a new database `<prefix>_<pid>_<random>` on `server_url`'s server; dropped
    (even with connections left open) when the block ends, unless `keep`."""
    server = sa.make_url(server_url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
