"""The article store, identical on SQLite and PostgreSQL (see conftest)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.factories import UNTRUSTED, article, fill
from wirestream.db import ArticleStore
from wirestream.db.dialects import SqliteDialect


@pytest.fixture
def filled(store: ArticleStore) -> ArticleStore:
    return fill(store)


def ids(page: Any) -> list[str]:
    return sorted(item["id"] for item in page.items)


def test_upserts_are_idempotent_and_untrusted_text_comes_back_byte_for_byte(store):
    untrusted = article(9, UNTRUSTED, headline="<b>bold</b> & 'quoted'")
    store.upsert([untrusted])
    store.upsert([untrusted])
    assert store.count() == 1
    got = store.get("a9")
    assert got.article.body == UNTRUSTED and got.article.headline == "<b>bold</b> & 'quoted'"
    assert got.article == untrusted
    assert ids(store.search(text="DROP TABLE")) == ["a9"], "SQL in the text is only ever data"


def test_what_stages_of_ones_own_add_is_stored_and_comes_back_as_it_went_in(store):
    extended = article(7, "Oslo, Jan 1 (NTB) Snow.").model_copy(
        update={"extensions": {"alerts": {"rules": ["weather"], "score": 0.5, "urgent": None}}})
    store.upsert([extended])
    assert store.get("a7").article.extensions == {"alerts": {"rules": ["weather"], "score": 0.5, "urgent": None}}


def test_many_articles_come_back_in_the_order_asked_in_one_query_per_chunk(filled, monkeypatch):
    queries: list[str] = []
    execute = filled.dialect.execute
    monkeypatch.setattr(filled.dialect, "execute", lambda c, sql, p=None: queries.append(sql) or execute(c, sql, p))
    got = filled.get_many(["a3", "nowhere", "a1", "a2"], chunk=2)
    assert [item.article.id for item in got] == ["a3", "a1", "a2"], "the missing id is left out"
    assert len([sql for sql in queries if sql.startswith("SELECT a.record")]) == 2
    assert got[1] == filled.get("a1")
    assert filled.get_many([]) == []


def test_a_redelivered_article_keeps_its_first_stored_time(store):
    first = store.upsert([article(1, "Oslo, Jan 1 (NTB) Snow.")])[0]
    again = store.upsert([article(1, "Oslo, Jan 1 (NTB) Snow.")])[0]
    assert again.first_stored_at == first.first_stored_at and again.updated_at >= first.updated_at


def test_every_version_of_a_story_is_kept_and_the_latest_is_marked(store):
    store.upsert([article(1, "Oslo, Jan 1 (NTB) Snow fell.", story="snow", version=1)])
    store.upsert([article(2, "Oslo, Jan 1 (NTB) Heavy snow fell overnight.", story="snow", version=2)])
    assert store.get("a2").is_latest and not store.get("a1").is_latest
    assert ids(store.search(text="snow")) == ["a2"]
    assert ids(store.search(text="snow", all_versions=True)) == ["a1", "a2"]
    # a late redelivery of version 1 does not take the mark back
    store.upsert([article(1, "Oslo, Jan 1 (NTB) Snow fell.", story="snow", version=1)])
    assert store.get("a2").is_latest and not store.get("a1").is_latest


def test_search_filters_combine(filled):
    assert ids(filled.search()) == ["a1", "a2", "a3"]
    assert ids(filled.search(text="ceasefire")) == ["a1"]
    assert ids(filled.search(text="rejected plans")) == ["a2"], "stemmed: plans ~ plan"
    assert ids(filled.search(entity="org:hamas")) == ["a1", "a2"]
    assert ids(filled.search(entity="netanyahu")) == ["a2"], "by name, any case"
    assert ids(filled.search(label="PER")) == ["a2"]
    assert ids(filled.search(tone="negative")) == ["a2"]
    assert ids(filled.search(agency="reuters")) == ["a1"]
    assert ids(filled.search(since=date(2025, 1, 3))) == ["a2", "a3"]
    assert ids(filled.search(since=date(2025, 1, 3), until=date(2025, 1, 31))) == ["a2"]
    assert ids(filled.search(entity="org:hamas", tone="positive")) == ["a1"]
    assert ids(filled.search(entity="Netanyahu", stance="positive")) == ["a2"]
    assert ids(filled.search(entity="loc:israel", stance="negative")) == [], "Hamas's stance in a1 is not Israel's"
    assert ids(filled.search(stance="neutral")) == ["a1"]
    assert filled.search(text="nothing-like-this").total == 0


def test_paging_returns_disjoint_pages_and_the_total(filled):
    pages = [filled.search(limit=2, offset=offset) for offset in (0, 2)]
    assert [page.total for page in pages] == [3, 3]
    assert [len(page.items) for page in pages] == [2, 1]
    assert set(ids(pages[0])).isdisjoint(ids(pages[1]))


def test_entities_are_one_row_per_key_across_articles_with_counts_and_average_stance(filled):
    top = filled.top_entities()
    assert top[0]["key"] == "org:hamas"
    hamas = top[0]
    assert (hamas["articles"], hamas["mentions"], hamas["average_stance"]) == (2, 2, -1.0)
    netanyahu = next(row for row in top if row["key"] == "per:netanyahu")
    assert netanyahu["average_stance"] == 1.0
    assert [row["key"] for row in filled.top_entities(label="LOC")] == ["loc:israel"]
    assert [row["key"] for row in filled.top_entities(since=date(2025, 1, 3))] == ["org:hamas", "per:netanyahu"]


def test_an_entity_view_has_its_mentions_and_stance_over_time(filled):
    view = filled.entity("org:hamas")
    assert (view.name, view.label, view.first_seen, view.last_seen) == ("Hamas", "ORG", "2025-01-02", "2025-01-05")
    assert [(t["id"], t["day"], t["mentions"], t["stance"]) for t in view.timeline] == [
        ("a1", "2025-01-02", 1, "negative"), ("a2", "2025-01-05", 1, "negative")]
    assert filled.entity("org:nobody") is None


def test_a_batch_is_one_transaction(store, monkeypatch):
    store.upsert([article(1, "Oslo, Jan 1 (NTB) Snow.")])
    calls = {"n": 0}
    execute = store.dialect.execute

    def fail_on_the_fifth_statement(connection, query, params=None):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk on fire")
        return execute(connection, query, params)

    monkeypatch.setattr(store.dialect, "execute", fail_on_the_fifth_statement)
    with pytest.raises(RuntimeError):
        store.upsert([article(2, "Oslo, Jan 2 (NTB) Rain."), article(3, "Oslo, Jan 3 (NTB) Sun.")])
    monkeypatch.undo()
    assert store.count() == 1 and store.get("a2") is None


def test_migrations_are_recorded_once(store):
    store.count()
    store.count()
    with store.dialect.connect() as connection:
        rows = store.dialect.execute(connection, "SELECT version FROM schema_migrations")
    assert [row["version"] for row in rows] == list(range(1, len(store.dialect.migrations) + 1))


def test_a_pre_release_sqlite_file_is_refused_with_a_clear_error(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 1")
    with pytest.raises(RuntimeError, match="pre-release"):
        ArticleStore(SqliteDialect(path)).count()


def test_a_reused_id_with_different_text_is_refused_and_the_original_kept(store):
    from wirestream.service import IdConflict

    original = article(1, "Oslo, Jan 1 (NTB) Snow.")
    store.upsert([original])
    store.upsert([original.model_copy(update={"tone": None})])  # re-enrichment of the same text is fine
    with pytest.raises(IdConflict, match="a1"):
        store.upsert([article(1, "Oslo, Jan 1 (NTB) Rain, not snow.")])
    assert store.get("a1").article.body == original.body
