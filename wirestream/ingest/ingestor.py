"""``wirestream ingest``: follow feeds, a watched directory and a push endpoint until stopped.

Every article, whatever its source, goes through one path: language check, duplicate and
near-duplicate check against :class:`~wirestream.ingest.stories.StoryIndex`, publish to the raw
topic, remember. Feed state (validators, failures, backoff) lives in the same SQLite file as the
story index, so a restart neither refetches unchanged feeds nor republishes what went out.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from schemas import Article
from wirestream.clients import ensure_topics, make_producer
from wirestream.config import Settings
from wirestream.ingest.feeds import FeedError, fetch, parse_feed
from wirestream.ingest.language import detect
from wirestream.ingest.stories import Decision, StoryIndex
from wirestream.producer import stamp
from wirestream.wirefile import InputError, read_path

log = logging.getLogger(__name__)

_FEEDS = """
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,
                                  failures INTEGER NOT NULL DEFAULT 0, next_poll REAL NOT NULL DEFAULT 0,
                                  last_error TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime REAL NOT NULL)
"""


class Ingestor:
    """Turns sources into published raw articles, once each; counts per source."""

    def __init__(self, settings: Settings, state_path: Path | None = None) -> None:
        self.settings = settings
        self.state_path = Path(state_path or settings.ingest_state_path)
        self.stories = StoryIndex(self.state_path, threshold=settings.ingest_similarity)
        self.counts: dict[str, Counter] = {}
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(_FEEDS)
        ensure_topics(settings, [settings.topic_raw, settings.topic_other_languages])
        self.producer = make_producer(settings)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.state_path, timeout=10)

    def count(self, source: str, what: str, n: int = 1) -> None:
        with self._lock:
            self._count(source, what, n)

    def _count(self, source: str, what: str, n: int = 1) -> None:
        """Caller holds ``_lock``."""
        self.counts.setdefault(source, Counter())[what] += n

    # --- the one path every article takes ---------------------------------------------------
    def submit(self, article: Article, source: str) -> Decision:
        """Publish ``article`` unless it is a duplicate; near-duplicates become new versions."""
        with self._lock:  # classify + remember must not interleave between sources
            language = article.language or detect(f"{article.headline or ''} {article.body}")
            article = article.model_copy(update={"language": language})
            decision = self.stories.classify(article)
            if decision.kind == "duplicate":
                self._count(source, "duplicate")
                return decision
            topic = self.settings.topic_raw
            if language is not None and language not in self.settings.ingest_languages:  # unknown: let it through
                route = self.settings.ingest_other_languages
                self._count(source, "other_language")
                if route == "drop":
                    self.stories.remember(decision.article)
                    return decision
                if route == "divert":
                    topic = self.settings.topic_other_languages
            stamped = stamp(decision.article, self.settings.instance_id)
            self.producer.send(topic, key=stamped.story_id.encode(), value=stamped.model_dump_json().encode()).get(
                timeout=30)
            self.stories.remember(decision.article)
            self._count(source, "new" if decision.kind == "new" else "version")
            return decision

    # --- feeds --------------------------------------------------------------------------------
    def poll_feeds(self, urls: Iterable[str], now: float | None = None) -> None:
        """Fetch every feed that is due; a failing or malformed feed is reported and backed off."""
        now = time.time() if now is None else now
        for url in urls:
            with self._db() as db:
                db.execute("INSERT OR IGNORE INTO feeds (url) VALUES (?)", (url,))
                etag, modified, failures, next_poll = db.execute(
                    "SELECT etag, last_modified, failures, next_poll FROM feeds WHERE url = ?", (url,)).fetchone()
            if next_poll > now:
                continue
            try:
                fetched = fetch(url, etag, modified, timeout_s=self.settings.ingest_timeout_s)
                self.count(url, "fetched")
                if fetched.status == 304:
                    self.count(url, "not_modified")
                else:
                    for article in parse_feed(fetched.body, url):
                        self.submit(article, url)
                    etag, modified = fetched.etag, fetched.last_modified
                failures, error, wait = 0, None, self.settings.ingest_interval_s
            except FeedError as failure:
                failures, error = failures + 1, str(failure)
                wait = min(self.settings.ingest_interval_s * 2 ** failures, self.settings.ingest_max_backoff_s)
                self.count(url, "failed")
                log.warning("feed %s failed (%d in a row), next try in %.0fs: %s", url, failures, wait, failure)
            with self._db() as db:
                db.execute("UPDATE feeds SET etag = ?, last_modified = ?, failures = ?, next_poll = ?, last_error = ? "
                           "WHERE url = ?", (etag, modified, failures, now + wait, error, url))

    # --- a watched directory -----------------------------------------------------------------
    def scan(self, directory: Path) -> None:
        """Publish wire files that appeared or changed in ``directory`` since the last scan."""
        for path in sorted(p for p in Path(directory).iterdir() if p.is_file() and not p.name.startswith(".")):
            stat = path.stat()
            with self._db() as db:
                row = db.execute("SELECT size, mtime FROM files WHERE path = ?", (str(path),)).fetchone()
            if row == (stat.st_size, stat.st_mtime) or time.time() - stat.st_mtime < 0.5:  # unchanged, or mid-write
                continue
            source = f"dir:{directory}"
            try:
                for article in read_path(path):
                    self.submit(article, source)
            except InputError as error:
                self.count(source, "failed")
                log.warning("%s", error)
            with self._db() as db:
                db.execute("INSERT OR REPLACE INTO files (path, size, mtime) VALUES (?, ?, ?)",
                           (str(path), stat.st_size, stat.st_mtime))

    def progress(self) -> str:
        """One line per source: fetched, new, version, duplicate, other_language, failed."""
        with self._lock:
            return "\n".join(f"{source}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                             for source, c in sorted(self.counts.items()))

    def follow(self, feeds: Iterable[str], watch: Path | None, stop: threading.Event, *, once: bool = False,
               report_every_s: float = 30.0) -> None:
        """Poll the feeds and scan ``watch`` every second until ``stop`` is set (or once); log progress now and then."""
        feeds = list(feeds)
        reported = time.monotonic()
        while not stop.is_set():
            self.poll_feeds(feeds)
            if watch:
                self.scan(watch)
            if once:
                return
            if time.monotonic() - reported > report_every_s:
                log.info("progress\n%s", self.progress())
                reported = time.monotonic()
            stop.wait(1.0)

    def close(self) -> None:
        self.producer.close(timeout=10)
