"""Articles in SQLite: idempotent upserts keyed by article id, one transaction per batch.

The schema is created and upgraded by numbered migrations (SQLite's ``user_version``).
A connection is opened per batch, so a database that was unwritable or locked and is
fine again is picked up without restarting the process. Operational errors (locked,
read-only, unreachable file) become :class:`TransientError`, which the runtime retries.

>>> import tempfile, pathlib
>>> from schemas import EnrichedArticle
>>> store = ArticleStore(pathlib.Path(tempfile.mkdtemp()) / "w.db")
>>> a = EnrichedArticle(id="a1", story_id="a1", source="doc", body="Brussels, Mar 3 (Reuters) Hi.")
>>> store.upsert([a]); store.upsert([a]); store.count()
1
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas import Article, EnrichedArticle
from wirestream.service import TransientError

MIGRATIONS: tuple[str, ...] = (
    # 1: articles, one row per article id; the full record kept as JSON beside the columns.
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        story_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        source TEXT NOT NULL,
        agency TEXT,
        dateline TEXT,
        published TEXT,
        headline TEXT,
        body TEXT NOT NULL,
        language TEXT,
        schema_version TEXT NOT NULL,
        record TEXT NOT NULL,
        first_stored_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX articles_story ON articles (story_id, version);
    CREATE INDEX articles_published ON articles (published);
    """,
)

_UPSERT = """
INSERT INTO articles (id, story_id, version, source, agency, dateline, published, headline, body,
                      language, schema_version, record, first_stored_at, updated_at)
VALUES (:id, :story_id, :version, :source, :agency, :dateline, :published, :headline, :body,
        :language, :schema_version, :record, :now, :now)
ON CONFLICT (id) DO UPDATE SET
    story_id = excluded.story_id, version = excluded.version, source = excluded.source,
    agency = excluded.agency, dateline = excluded.dateline, published = excluded.published,
    headline = excluded.headline, body = excluded.body, language = excluded.language,
    schema_version = excluded.schema_version, record = excluded.record, updated_at = excluded.updated_at
"""


@dataclass(frozen=True)
class StoredArticle:
    article: EnrichedArticle
    first_stored_at: datetime
    updated_at: datetime


class ArticleStore:
    """The SQLite article table; safe to share between processes (WAL, busy timeout)."""

    def __init__(self, path: Path, timeout_s: float = 2.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        except (sqlite3.OperationalError, OSError) as error:
            raise TransientError(f"database {self.path} unavailable: {error}") from error
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            self._migrate(connection)
            yield connection
        except sqlite3.OperationalError as error:
            raise TransientError(f"database {self.path} unavailable: {error}") from error
        finally:
            connection.close()

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        current = connection.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                if connection.execute("PRAGMA user_version").fetchone()[0] >= number:
                    connection.execute("ROLLBACK")
                    continue
                for statement in filter(str.strip, script.split(";")):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def upsert(self, articles: Sequence[Article]) -> None:
        """Insert or update every article in one transaction: all of the batch, or none of it."""
        now = datetime.now(UTC).isoformat()
        rows = [
            {
                **article.model_dump(
                    include={
                        "id",
                        "story_id",
                        "version",
                        "source",
                        "agency",
                        "dateline",
                        "headline",
                        "body",
                        "language",
                        "schema_version",
                    }
                ),
                "published": article.published.isoformat() if article.published else None,
                "record": article.model_dump_json(),
                "now": now,
            }
            for article in articles
        ]
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(_UPSERT, rows)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def count(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])

    def get(self, article_id: str) -> StoredArticle | None:
        rows = self._select("WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    def latest(self, limit: int = 20) -> list[StoredArticle]:
        return self._select("ORDER BY updated_at DESC, id LIMIT ?", (limit,))

    def _select(self, where: str, params: tuple[object, ...]) -> list[StoredArticle]:
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT record, first_stored_at, updated_at FROM articles {where}", params
            ).fetchall()
        return [
            StoredArticle(
                EnrichedArticle.model_validate(json.loads(record)),
                datetime.fromisoformat(first),
                datetime.fromisoformat(updated),
            )
            for record, first, updated in rows
        ]
