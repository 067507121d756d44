"""The storage schema, as numbered migrations per engine; applied in order, each recorded once.

Normalised tables: ``articles`` (every version of a story, the latest marked), ``entities`` by
their cross-article key, ``mentions`` and ``stances`` per article; full-text search over headline
and body (FTS5 in SQLite, a generated ``tsvector`` with a GIN index in PostgreSQL). Dates and
times are ISO-8601 text in both engines, so they sort and compare the same way.
"""

from __future__ import annotations

_CORE = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    is_latest INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    agency TEXT,
    dateline TEXT,
    published TEXT,
    day TEXT NOT NULL,
    headline TEXT,
    body TEXT NOT NULL,
    language TEXT,
    tone_label TEXT,
    tone_score DOUBLE PRECISION,
    schema_version TEXT NOT NULL,
    record TEXT NOT NULL,
    first_stored_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX articles_story ON articles (story_id, version);
CREATE INDEX articles_latest_day ON articles (is_latest, day);
CREATE INDEX articles_updated ON articles (updated_at);
CREATE INDEX articles_agency ON articles (agency);
CREATE INDEX articles_tone ON articles (tone_label);
CREATE TABLE entities (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX entities_label ON entities (label);
CREATE TABLE mentions (
    article_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entity_key TEXT,
    field TEXT NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (article_id, seq)
);
CREATE INDEX mentions_entity ON mentions (entity_key, article_id);
CREATE INDEX mentions_label ON mentions (label, article_id);
CREATE TABLE stances (
    article_id TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    label TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    sentences INTEGER NOT NULL,
    evidence_start INTEGER,
    evidence_end INTEGER,
    PRIMARY KEY (article_id, entity_key)
);
CREATE INDEX stances_entity ON stances (entity_key);
"""

SQLITE_MIGRATIONS: tuple[str, ...] = (
    _CORE
    + """
CREATE VIRTUAL TABLE articles_fts USING fts5(article_id UNINDEXED, headline, body, tokenize = 'porter unicode61')
""",
)

POSTGRES_MIGRATIONS: tuple[str, ...] = (
    _CORE
    + """
ALTER TABLE articles ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', coalesce(headline, '') || ' ' || body)) STORED;
CREATE INDEX articles_search ON articles USING GIN (search)
""",
)
