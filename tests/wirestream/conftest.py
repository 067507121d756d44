"""One storage test suite, run on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``WIRESTREAM_TEST_DATABASE_URL`` (``bin/dev test`` starts Debian's server
and sets it); each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from wirestream.db import ArticleStore
from wirestream.db.dialects import PostgresDialect, SqliteDialect

TEST_DATABASE_URL = os.environ.get("WIRESTREAM_TEST_DATABASE_URL")


def postgres_url_with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections land in a fresh schema of the test database."""
    if not TEST_DATABASE_URL:
        pytest.skip("WIRESTREAM_TEST_DATABASE_URL not set (bin/dev test starts PostgreSQL and sets it)")
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_url_with_schema(TEST_DATABASE_URL, schema)
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ArticleStore:
    if request.param == "sqlite":
        return ArticleStore(SqliteDialect(tmp_path / "wirestream.db"))
    return ArticleStore(PostgresDialect(request.getfixturevalue("postgres_url")))
