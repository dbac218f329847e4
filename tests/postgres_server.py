"""A throwaway PostgreSQL database for a test, or a clear reason to skip.

The server is FEEDBACKBOT_TEST_DATABASE_URL when set, else the local cluster with the
role that .ci/run creates. Each database is created for one test and dropped after it,
so tests never see each other's rows.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_VAR = "FEEDBACKBOT_TEST_DATABASE_URL"
DEFAULT_URL = "postgresql://feedbackbot:feedbackbot@127.0.0.1:5432/postgres"
NOT_RUNNING = (
    "PostgreSQL is not running on 127.0.0.1:5432"
    " (start it with `pg_ctlcluster 15 main start`; .ci/run does)"
)
PREFIX = "feedbackbot_test_"


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


@functools.cache
def server_url() -> tuple[str | None, str]:
    """Return (URL of a server that lets us in, "") or (None, why not), once per run."""
    configured = os.environ.get(ENV_VAR)
    url = configured or DEFAULT_URL
    where = f"{ENV_VAR}={_redacted(url)}" if configured else "127.0.0.1:5432"
    if not url.startswith(("postgresql://", "postgres://")):
        return None, f"{ENV_VAR} must be a postgresql:// URL, not {_redacted(url)!r}"
    try:
        import psycopg
    except ImportError:
        return None, 'psycopg is not installed (pip install "psycopg[binary]>=3.1")'
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    if not host.startswith("/"):
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as error:
            if not configured:
                return None, NOT_RUNNING
            return None, f"PostgreSQL at {where} does not answer: {error}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        hint = "" if configured else " (.ci/run creates the role feedbackbot)"
        return None, f"PostgreSQL at {where} refused the test login{hint}: {error}"
    return url, ""


def database_url(server: str, name: str) -> str:
    """The server URL pointed at another database."""
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Create an empty database, yield its URL, then drop it; skip when there is no server."""
    server, reason = server_url()
    if server is None:
        pytest.skip(reason)
    import psycopg
    from psycopg import sql

    name = f"{PREFIX}{uuid.uuid4().hex}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        pytest.skip(f"cannot create a test database on {_redacted(server)}: {error}")
    try:
        yield database_url(server, name)
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            # FORCE ends connections a failed test left open (PostgreSQL 13+).
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
