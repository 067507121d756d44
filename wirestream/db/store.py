"""Enriched articles in a database: idempotent batch upserts, and the queries the API serves.

Writes are keyed by article id, so a redelivered batch changes nothing; a batch is one
transaction, so storage commits its Kafka offsets only after all of it is in. The same code
runs on SQLite and PostgreSQL (:mod:`wirestream.db.dialects`).

>>> import tempfile, pathlib
>>> from schemas import EnrichedArticle
>>> from wirestream.db.dialects import SqliteDialect
>>> store = ArticleStore(SqliteDialect(pathlib.Path(tempfile.mkdtemp()) / "w.db"))
>>> a = EnrichedArticle(id="a1", story_id="s1", source="doc", body="Brussels, Mar 3 (Reuters) Hi.")
>>> _ = store.upsert([a]); _ = store.upsert([a]); store.count()
1
>>> store.search(text="brussels").total
1
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from schemas import Article, EnrichedArticle
from wirestream.db.dialects import Dialect
from wirestream.service import IdConflict

_STANCE_SQL = "CASE s.label WHEN 'negative' THEN -1.0 WHEN 'positive' THEN 1.0 ELSE 0.0 END"


@dataclass(frozen=True)
class StoredArticle:
    article: EnrichedArticle
    first_stored_at: datetime
    updated_at: datetime
    is_latest: bool = True


@dataclass(frozen=True)
class Page:
    """One page of search results and how many match in all."""

    total: int
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class EntityView:
    key: str
    name: str
    label: str
    first_seen: str
    last_seen: str
    timeline: list[dict[str, Any]] = field(default_factory=list)


_ARTICLE = """
INSERT INTO articles (id, story_id, version, is_latest, source, agency, dateline, published, day, headline, body,
                      language, tone_label, tone_score, schema_version, record, first_stored_at, updated_at)
VALUES (%(id)s, %(story_id)s, %(version)s, 0, %(source)s, %(agency)s, %(dateline)s, %(published)s, %(day)s,
        %(headline)s, %(body)s, %(language)s, %(tone_label)s, %(tone_score)s, %(schema_version)s, %(record)s,
        %(now)s, %(now)s)
ON CONFLICT (id) DO UPDATE SET
    story_id = excluded.story_id, version = excluded.version, source = excluded.source, agency = excluded.agency,
    dateline = excluded.dateline, published = excluded.published, day = excluded.day, headline = excluded.headline,
    body = excluded.body, language = excluded.language, tone_label = excluded.tone_label,
    tone_score = excluded.tone_score, schema_version = excluded.schema_version, record = excluded.record,
    updated_at = excluded.updated_at
"""
_ENTITY = """
INSERT INTO entities (key, name, label, first_seen, last_seen) VALUES (%(key)s, %(name)s, %(label)s, %(day)s, %(day)s)
ON CONFLICT (key) DO UPDATE SET name = excluded.name, label = excluded.label,
    first_seen = CASE WHEN excluded.first_seen < entities.first_seen THEN excluded.first_seen
                      ELSE entities.first_seen END,
    last_seen = CASE WHEN excluded.last_seen > entities.last_seen THEN excluded.last_seen ELSE entities.last_seen END
"""
_MENTION = """
INSERT INTO mentions (article_id, seq, entity_key, field, start_offset, end_offset, text, label, score)
VALUES (%(article_id)s, %(seq)s, %(entity_key)s, %(field)s, %(start)s, %(end)s, %(text)s, %(label)s, %(score)s)
"""
_STANCE = """
INSERT INTO stances (article_id, entity_key, label, score, sentences, evidence_start, evidence_end)
VALUES (%(article_id)s, %(entity_key)s, %(label)s, %(score)s, %(sentences)s, %(evidence_start)s, %(evidence_end)s)
"""
_LATEST = """
UPDATE articles SET is_latest = CASE WHEN id = (
    SELECT id FROM articles AS newest WHERE newest.story_id = %(story_id)s
    ORDER BY newest.version DESC, newest.updated_at DESC, newest.id DESC LIMIT 1) THEN 1 ELSE 0 END
WHERE story_id = %(story_id)s
"""
_SUMMARY = (
    "a.id, a.story_id, a.version, a.is_latest, a.source, a.agency, a.dateline, a.published, a.day, a.headline, "
    "substr(a.body, 1, 280) AS snippet, a.tone_label, a.tone_score, a.first_stored_at, a.updated_at"
)


def _in_list(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``%(p0)s, %(p1)s, ...`` and its parameters, for ``column IN (...)``."""
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return ", ".join(f"%({key})s" for key in params), params


def _window(clauses: list[str], params: dict[str, Any], since: date | None, until: date | None) -> None:
    """Add the publication-day bounds of a query (days are ISO text: they compare as dates)."""
    if since:
        clauses.append("a.day >= %(since)s")
        params["since"] = since.isoformat()
    if until:
        clauses.append("a.day <= %(until)s")
        params["until"] = until.isoformat()


def _day(article: Article, now: datetime) -> str:
    return (article.published or now.date()).isoformat()


class ArticleStore:
    """Articles, entities, mentions and stances in one database; safe to share between processes."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    @property
    def engine(self) -> str:
        return self.dialect.name

    @property
    def where(self) -> str:
        """Engine and location, without secrets: for logs and messages."""
        return f"{self.dialect.name} {self.dialect.location}"

    # --- writes ---------------------------------------------------------------------------
    def upsert(self, articles: Sequence[Article]) -> list[StoredArticle]:
        """Insert or replace every article with its entities, mentions and stances: all of it, or none."""
        now = datetime.now(UTC)
        stamp = now.isoformat()
        records = [EnrichedArticle.model_validate(a.model_dump()) for a in articles]
        d = self.dialect
        with d.connect() as connection, d.transaction(connection):
            self._refuse_reused_ids(connection, records)
            for record in records:
                self._write(connection, record, stamp, _day(record, now))
            for story_id in dict.fromkeys(r.story_id for r in records):
                d.execute(connection, _LATEST, {"story_id": story_id})
            marks, ids = _in_list("id", [r.id for r in records])
            stored = self._fetch(connection, f"WHERE a.id IN ({marks})", ids)
        return stored

    def _refuse_reused_ids(self, connection: Any, records: Sequence[EnrichedArticle]) -> None:
        """An id is the article's identity: the same id with another headline or body is a source's bug.

        Re-enrichment (same text, new entities or tone) and redelivery update the row as usual.
        """
        marks, ids = _in_list("id", [r.id for r in records])
        rows = self.dialect.execute(connection, f"SELECT id, headline, body FROM articles WHERE id IN ({marks})", ids)
        stored = {row["id"]: (row["headline"], row["body"]) for row in rows}
        for record in records:
            if record.id in stored and stored[record.id] != (record.headline, record.body):
                raise IdConflict(f"article id {record.id} is already stored with a different headline or body")

    def _write(self, connection: Any, record: EnrichedArticle, now: str, day: str) -> None:
        d = self.dialect
        row = record.model_dump(
            include={"id", "story_id", "version", "source", "agency", "dateline", "headline", "body", "language",
                     "schema_version"}
        )
        row.update(
            published=record.published.isoformat() if record.published else None, day=day,
            tone_label=record.tone.label if record.tone else None,
            tone_score=record.tone.score if record.tone else None,
            record=record.model_dump_json(), now=now,
        )
        d.execute(connection, _ARTICLE, row)
        for table in ("mentions", "stances"):
            d.execute(connection, f"DELETE FROM {table} WHERE article_id = %(id)s", {"id": record.id})
        if d.name == "sqlite":
            d.execute(connection, "DELETE FROM articles_fts WHERE article_id = %(id)s", {"id": record.id})
            d.execute(connection, "INSERT INTO articles_fts (article_id, headline, body) VALUES (%(id)s, %(h)s, %(b)s)",
                      {"id": record.id, "h": record.headline or "", "b": record.body})
        owner = {(span.field, span.start, span.end): e.key for e in record.entities for span in e.mentions}
        d.executemany(connection, _ENTITY, [{"key": e.key, "name": e.name, "label": e.label, "day": day}
                                            for e in record.entities])
        d.executemany(connection, _MENTION, [
            {"article_id": record.id, "seq": n, "entity_key": owner.get((m.field, m.start, m.end)), "field": m.field,
             "start": m.start, "end": m.end, "text": m.text, "label": m.label, "score": m.score}
            for n, m in enumerate(record.mentions)
        ])
        d.executemany(connection, _STANCE, [
            {"article_id": record.id, "entity_key": s.entity_key, "label": s.label, "score": s.score,
             "sentences": s.sentences, "evidence_start": s.evidence.start if s.evidence else None,
             "evidence_end": s.evidence.end if s.evidence else None}
            for s in {s.entity_key: s for s in record.stances}.values()
        ])

    # --- reads ----------------------------------------------------------------------------
    def count(self) -> int:
        with self.dialect.connect() as connection:
            return int(self.dialect.execute(connection, "SELECT count(*) AS n FROM articles")[0]["n"])

    def stored_ids(self, candidates: Sequence[str], chunk: int = 500) -> set[str]:
        """Which of ``candidates`` are stored (asked ``chunk`` ids at a time)."""
        found: set[str] = set()
        with self.dialect.connect() as connection:
            for start in range(0, len(candidates), chunk):
                marks, ids = _in_list("id", candidates[start:start + chunk])
                rows = self.dialect.execute(connection, f"SELECT id FROM articles WHERE id IN ({marks})", ids)
                found.update(row["id"] for row in rows)
        return found

    def ping(self) -> None:
        """Raises :class:`~wirestream.service.TransientError` when the database is not there."""
        with self.dialect.connect() as connection:
            self.dialect.execute(connection, "SELECT 1 AS one")

    def get(self, article_id: str) -> StoredArticle | None:
        with self.dialect.connect() as connection:
            rows = self._fetch(connection, "WHERE a.id = %(id)s", {"id": article_id})
        return rows[0] if rows else None

    def get_many(self, article_ids: Sequence[str], chunk: int = 500) -> list[StoredArticle]:
        """The stored ones of ``article_ids``, in that order, asked ``chunk`` ids at a time."""
        found: dict[str, StoredArticle] = {}
        with self.dialect.connect() as connection:
            for start in range(0, len(article_ids), chunk):
                marks, ids = _in_list("id", article_ids[start:start + chunk])
                for item in self._fetch(connection, f"WHERE a.id IN ({marks})", ids):
                    found[item.article.id] = item
        return [found[article_id] for article_id in article_ids if article_id in found]

    def latest(self, limit: int = 20) -> list[StoredArticle]:
        with self.dialect.connect() as connection:
            return self._fetch(connection, "ORDER BY a.updated_at DESC, a.id LIMIT %(limit)s", {"limit": limit})

    def _fetch(self, connection: Any, where: str, params: dict[str, Any]) -> list[StoredArticle]:
        rows = self.dialect.execute(
            connection, f"SELECT a.record, a.first_stored_at, a.updated_at, a.is_latest FROM articles a {where}",
            params,
        )
        return [
            StoredArticle(
                EnrichedArticle.model_validate(json.loads(row["record"])),
                datetime.fromisoformat(row["first_stored_at"]),
                datetime.fromisoformat(row["updated_at"]),
                bool(row["is_latest"]),
            )
            for row in rows
        ]

    def search(
        self, *, text: str | None = None, entity: str | None = None, label: str | None = None,
        tone: str | None = None, agency: str | None = None, since: date | None = None, until: date | None = None,
        stance: str | None = None, all_versions: bool = False, limit: int = 20, offset: int = 0,
    ) -> Page:
        """Articles matching every given filter, newest first; the latest version of each story unless told.

        ``stance``: articles that portray ``entity`` so (negative, neutral, positive); without
        ``entity``, articles that portray some entity so.
        """
        clauses, params = [], {"limit": limit, "offset": offset}
        if not all_versions:
            clauses.append("a.is_latest = 1")
        if text and text.strip():
            clauses.append(f"a.id IN ({self.dialect.text_match()})")
            params["q"] = self.dialect.text_param(text)
        named = "(e.key = %(entity)s OR lower(e.name) = lower(%(entity)s))"
        if entity:
            clauses.append(f"a.id IN (SELECT m.article_id FROM mentions m JOIN entities e ON e.key = m.entity_key "
                           f"WHERE {named})")
            params["entity"] = entity
        if stance:
            about = f" AND s.entity_key IN (SELECT e.key FROM entities e WHERE {named})" if entity else ""
            clauses.append(f"a.id IN (SELECT s.article_id FROM stances s WHERE s.label = %(stance)s{about})")
            params["stance"] = stance
        if label:
            clauses.append("a.id IN (SELECT article_id FROM mentions WHERE label = %(label)s)")
            params["label"] = label
        if tone:
            clauses.append("a.tone_label = %(tone)s")
            params["tone"] = tone
        if agency:
            clauses.append("lower(a.agency) = lower(%(agency)s)")
            params["agency"] = agency
        _window(clauses, params, since, until)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        d = self.dialect
        with d.connect() as connection:
            total = d.execute(connection, f"SELECT count(*) AS n FROM articles a {where}", params)[0]["n"]
            rows = d.execute(
                connection,
                f"SELECT {_SUMMARY} FROM articles a {where} "
                "ORDER BY a.updated_at DESC, a.id LIMIT %(limit)s OFFSET %(offset)s",
                params,
            )
        return Page(int(total), [{**dict(row), "is_latest": bool(row["is_latest"])} for row in rows])

    def top_entities(
        self, *, since: date | None = None, until: date | None = None, label: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """The most mentioned entities in the window, with article and mention counts and average stance.

        Average stance is the mean over the articles of negative = -1, neutral = 0, positive = +1.
        """
        clauses, params = ["a.is_latest = 1"], {"limit": limit}
        _window(clauses, params, since, until)
        if label:
            clauses.append("e.label = %(label)s")
            params["label"] = label
        where = " AND ".join(clauses)
        d = self.dialect
        with d.connect() as connection:
            top = d.execute(connection, f"""
                SELECT e.key, e.name, e.label, count(DISTINCT m.article_id) AS articles, count(*) AS mentions
                FROM mentions m JOIN articles a ON a.id = m.article_id JOIN entities e ON e.key = m.entity_key
                WHERE {where} GROUP BY e.key, e.name, e.label ORDER BY mentions DESC, e.key LIMIT %(limit)s""", params)
            marks, keys = _in_list("k", [row["key"] for row in top])
            stance = {}
            if keys:
                window = where.replace("e.label = %(label)s", "1 = 1")
                for row in d.execute(connection, f"""
                        SELECT s.entity_key, avg({_STANCE_SQL}) AS average, count(*) AS n
                        FROM stances s JOIN articles a ON a.id = s.article_id
                        WHERE {window} AND s.entity_key IN ({marks}) GROUP BY s.entity_key""", {**params, **keys}):
                    stance[row["entity_key"]] = (float(row["average"]), int(row["n"]))
        return [
            {**dict(row), "articles": int(row["articles"]), "mentions": int(row["mentions"]),
             "average_stance": round(stance[row["key"]][0], 4) if row["key"] in stance else None,
             "stances": stance.get(row["key"], (None, 0))[1]}
            for row in top
        ]

    def entity(self, key: str) -> EntityView | None:
        """One entity with, per article that mentions it (oldest first), its mentions and stance there."""
        d = self.dialect
        with d.connect() as connection:
            found = d.execute(connection, "SELECT * FROM entities WHERE key = %(key)s", {"key": key})
            if not found:
                return None
            rows = d.execute(connection, """
                SELECT a.id, a.headline, a.day, a.published, a.agency, count(*) AS mentions
                FROM mentions m JOIN articles a ON a.id = m.article_id
                WHERE m.entity_key = %(key)s AND a.is_latest = 1
                GROUP BY a.id, a.headline, a.day, a.published, a.agency ORDER BY a.day, a.id""", {"key": key})
            stances = {
                row["article_id"]: row for row in d.execute(connection, f"""
                SELECT s.article_id, s.label, s.score, {_STANCE_SQL} AS value FROM stances s
                WHERE s.entity_key = %(key)s""", {"key": key})
            }
        entity = found[0]
        timeline = [
            {**dict(row), "mentions": int(row["mentions"]),
             "stance": stances[row["id"]]["label"] if row["id"] in stances else None,
             "stance_score": float(stances[row["id"]]["score"]) if row["id"] in stances else None,
             "stance_value": float(stances[row["id"]]["value"]) if row["id"] in stances else None}
            for row in rows
        ]
        return EntityView(entity["key"], entity["name"], entity["label"], entity["first_seen"], entity["last_seen"],
                          timeline)
