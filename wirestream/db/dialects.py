"""What differs between SQLite and PostgreSQL: connecting, placeholders, full-text search, migrations.

Every query in :mod:`wirestream.db.store` is written once, with ``%(name)s`` placeholders;
:meth:`Dialect.sql` turns them into the driver's style.

>>> SqliteDialect(":memory:").sql("SELECT * FROM articles WHERE id = %(id)s")
'SELECT * FROM articles WHERE id = :id'
>>> SqliteDialect.fts_query('Gaza "ceasefire" talks')
'"Gaza" "ceasefire" "talks"'
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wirestream.db.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from wirestream.service import TransientError

_NAMED = re.compile(r"%\((\w+)\)s")


class Dialect(ABC):
    """One database engine; connections yield rows that index by column name."""

    name: str
    migrations: tuple[str, ...]

    def sql(self, text: str) -> str:
        return text

    @property
    def location(self) -> str:
        return ""

    @abstractmethod
    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A migrated connection; operational failures raise :class:`TransientError`."""

    @abstractmethod
    @contextmanager
    def transaction(self, connection: Any) -> Iterator[None]:
        """All statements inside commit together, or none of them."""

    @abstractmethod
    def text_match(self) -> str:
        """SQL selecting the ids of articles whose headline or body match ``%(q)s``."""

    def text_param(self, text: str) -> str:
        return text

    def executemany(self, connection: Any, query: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            connection.cursor().executemany(self.sql(query), rows)

    def execute(self, connection: Any, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        cursor = connection.execute(self.sql(query), params or {})
        return list(cursor.fetchall()) if cursor.description else []

    def migrate(self, connection: Any) -> None:
        """Apply the migrations not yet recorded in ``schema_migrations``, under a lock."""
        try:
            rows = self.execute(connection, "SELECT max(version) AS version FROM schema_migrations")
            if rows and (rows[0]["version"] or 0) >= len(self.migrations):
                return  # the common case: up to date, no lock taken
        except Exception:
            pass
        with self.transaction(connection):
            self._lock_migrations(connection)
            self.execute(
                connection,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            done = {row["version"] for row in self.execute(connection, "SELECT version FROM schema_migrations")}
            for number, script in enumerate(self.migrations, start=1):
                if number in done:
                    continue
                for statement in filter(str.strip, script.split(";")):
                    self.execute(connection, statement)
                self.execute(
                    connection,
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (%(v)s, %(at)s)",
                    {"v": number, "at": datetime.now(UTC).isoformat()},
                )

    def _lock_migrations(self, connection: Any) -> None:  # noqa: B027 - SQLite's BEGIN IMMEDIATE is the lock
        """Serialise migrations between processes starting together."""


class SqliteDialect(Dialect):
    """A SQLite file (WAL, busy timeout): the default, nothing to install or run."""

    name = "sqlite"
    migrations = SQLITE_MIGRATIONS

    def __init__(self, path: Path | str, timeout_s: float = 2.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._migrated = False

    def sql(self, text: str) -> str:
        return _NAMED.sub(r":\1", text)

    @property
    def location(self) -> str:
        return str(self.path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if str(self.path) != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        except (sqlite3.OperationalError, OSError) as error:
            raise TransientError(f"database {self.path} unavailable: {error}") from error
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            self._refuse_legacy(connection)
            self.migrate(connection)
            yield connection
        except sqlite3.OperationalError as error:
            raise TransientError(f"database {self.path} unavailable: {error}") from error
        finally:
            connection.close()

    def _refuse_legacy(self, connection: sqlite3.Connection) -> None:
        if connection.execute("PRAGMA user_version").fetchone()[0] and not connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
        ).fetchone():
            raise RuntimeError(f"{self.path} was written by a pre-release wirestream; move it away and start afresh")

    @contextmanager
    def transaction(self, connection: sqlite3.Connection) -> Iterator[None]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def text_match(self) -> str:
        return "SELECT article_id FROM articles_fts WHERE articles_fts MATCH %(q)s"

    def text_param(self, text: str) -> str:
        return self.fts_query(text)

    @staticmethod
    def fts_query(text: str) -> str:
        """Every word as a quoted FTS5 term: user text is never read as query syntax."""
        words = [word.replace('"', "") for word in text.split()]
        return " ".join(f'"{word}"' for word in words if word)


class PostgresDialect(Dialect):
    """PostgreSQL through psycopg 3, when ``WIRESTREAM_DATABASE_URL`` names one."""

    name = "postgresql"
    migrations = POSTGRES_MIGRATIONS

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    @property
    def location(self) -> str:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", self.url)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            connection = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=max(1, int(self.timeout_s))
            )
        except psycopg.OperationalError as error:
            raise TransientError(f"database unavailable: {error}") from error
        try:
            self.migrate(connection)
            yield connection
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise TransientError(f"database unavailable: {error}") from error
        finally:
            connection.close()

    @contextmanager
    def transaction(self, connection: Any) -> Iterator[None]:
        with connection.transaction():
            yield

    def _lock_migrations(self, connection: Any) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('wirestream-migrations'))")

    def text_match(self) -> str:
        return "SELECT id FROM articles WHERE search @@ plainto_tsquery('english', %(q)s)"
