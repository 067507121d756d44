"""Where enriched articles are kept: SQLite by default, PostgreSQL when given a database URL."""

from __future__ import annotations

from wirestream.config import Settings
from wirestream.db.dialects import Dialect, PostgresDialect, SqliteDialect
from wirestream.db.store import ArticleStore, EntityView, Page, StoredArticle

__all__ = ["ArticleStore", "Dialect", "EntityView", "Page", "StoredArticle", "open_store"]


def open_store(settings: Settings) -> ArticleStore:
    """The store ``settings`` name: ``database_url`` (PostgreSQL) when set, else the SQLite ``database_path``."""
    if settings.database_url:
        return ArticleStore(PostgresDialect(settings.database_url, timeout_s=settings.database_timeout_s))
    return ArticleStore(SqliteDialect(settings.database_path, timeout_s=settings.database_timeout_s))
