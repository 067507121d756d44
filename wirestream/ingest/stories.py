"""What ingestion has published, kept across restarts: exact duplicates, and versions of a story.

* the same article again (same id, or the same normalised body under another id), from any
  source, is a duplicate and is not republished;
* a near-duplicate of a known story (MinHash Jaccard >= ``threshold`` once known boilerplate is
  left out) is published as the story's next ``version``, ``status="update"`` unless the source
  marked it a correction or withdrawal, with ``supersedes`` naming the version it replaces;
* anything else starts a story of its own.

Boilerplate is learned: a paragraph seen in two or more stories is not counted when comparing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from schemas import Article
from wirestream.ingest.similarity import bands, paragraph_key, paragraphs, signature, similarity, without_boilerplate
from wirestream.wirefile import normalise

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, content TEXT NOT NULL, story_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS seen_content ON seen (content);
CREATE TABLE IF NOT EXISTS stories (story_id TEXT PRIMARY KEY, latest_id TEXT NOT NULL, latest_version INTEGER NOT NULL,
                                    signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS story_bands (band TEXT NOT NULL, story_id TEXT NOT NULL, PRIMARY KEY (band, story_id));
CREATE TABLE IF NOT EXISTS paragraph_stories (paragraph TEXT NOT NULL, story_id TEXT NOT NULL,
                                              PRIMARY KEY (paragraph, story_id))
"""


@dataclass(frozen=True)
class Decision:
    kind: Literal["new", "version", "duplicate"]
    article: Article
    similarity: float = 0.0


def content_key(article: Article) -> str:
    return hashlib.sha256(normalise(f"{article.headline or ''}\n{article.body}").lower().encode()).hexdigest()


class StoryIndex:
    """SQLite memory of ingestion; one process owns it (``wirestream ingest``)."""

    def __init__(self, path: Path, threshold: float = 0.6) -> None:
        self.path = Path(path)
        self.threshold = threshold
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def classify(self, article: Article) -> Decision:
        """Duplicate, new story, or the next version of a known one (not yet remembered)."""
        with self._db() as db:
            if db.execute("SELECT 1 FROM seen WHERE id = ? OR content = ?",
                          (article.id, content_key(article))).fetchone():
                return Decision("duplicate", article)
            if article.supersedes:  # the source named the version it replaces
                row = db.execute("SELECT story_id FROM seen WHERE id = ?", (article.supersedes,)).fetchone()
                if row:
                    return self._version_of(db, article, row[0], 1.0)
            boilerplate = [key for (key,) in db.execute(
                "SELECT paragraph FROM paragraph_stories GROUP BY paragraph HAVING count(*) >= 2")]
            sig = signature(without_boilerplate(self._text(article), boilerplate))
            candidates = {story for (story,) in db.execute(
                f"SELECT DISTINCT story_id FROM story_bands WHERE band IN ({', '.join('?' * len(bands(sig)))})",
                bands(sig))}
            best, score = None, 0.0
            for story in sorted(candidates):
                stored = json.loads(db.execute("SELECT signature FROM stories WHERE story_id = ?",
                                               (story,)).fetchone()[0])
                value = similarity(sig, stored)
                if value > score:
                    best, score = story, value
            if best is not None and score >= self.threshold:
                return self._version_of(db, article, best, score)
        return Decision("new", article.model_copy(update={"version": 1, "supersedes": None}), score)

    def _version_of(self, db: sqlite3.Connection, article: Article, story: str, score: float) -> Decision:
        latest_id, latest_version = db.execute(
            "SELECT latest_id, latest_version FROM stories WHERE story_id = ?", (story,)).fetchone()
        status = article.status if article.status in ("correction", "withdrawal") else "update"
        return Decision("version", article.model_copy(update={
            "story_id": story, "version": latest_version + 1, "status": status, "supersedes": latest_id,
        }), score)

    def remember(self, article: Article) -> None:
        """Record a published article: its id, content, and its story's latest version and signature."""
        sig = signature(self._text(article))
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO seen (id, content, story_id) VALUES (?, ?, ?)",
                       (article.id, content_key(article), article.story_id))
            db.execute(
                "INSERT INTO stories (story_id, latest_id, latest_version, signature) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (story_id) DO UPDATE SET latest_id = excluded.latest_id, "
                "latest_version = excluded.latest_version, signature = excluded.signature "
                "WHERE excluded.latest_version >= stories.latest_version",
                (article.story_id, article.id, article.version, json.dumps(sig)))
            db.executemany("INSERT OR IGNORE INTO story_bands (band, story_id) VALUES (?, ?)",
                           [(band, article.story_id) for band in bands(sig)])
            db.executemany("INSERT OR IGNORE INTO paragraph_stories (paragraph, story_id) VALUES (?, ?)",
                           [(paragraph_key(p), article.story_id) for p in paragraphs(article.body)])

    @staticmethod
    def _text(article: Article) -> str:
        return f"{article.headline or ''}\n\n{article.body}"
