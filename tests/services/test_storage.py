"""The storage stage on its own, through the runtime's batch rules (no broker)."""

from __future__ import annotations

from pathlib import Path

from schemas import StoredEvent
from services.storage import StorageService
from tests.factories import article
from wirestream.config import Settings
from wirestream.testing import run_batch


def test_stored_articles_are_announced_and_a_reused_id_is_dead_lettered_as_such(tmp_path: Path):
    storage = StorageService(Settings(database_path=tmp_path / "store.db"))
    storage.setup()
    first = article(1, "Oslo, Jan 1 (NTB) Snow fell.", story="snow", version=1)
    second = article(2, "Oslo, Jan 1 (NTB) Heavy snow fell overnight.", story="snow", version=2)
    result = run_batch(storage, [first, second])
    assert all(isinstance(event, StoredEvent) for event in result.outputs)
    assert [(e.id, e.version, e.latest) for e in result.outputs] == [("a1", 1, False), ("a2", 2, True)]
    assert [step.service for step in result.outputs[0].trace] == ["storage"]
    reused = first.model_copy(update={"body": "Oslo, Jan 1 (NTB) Snow fell. Edited."})
    again = run_batch(storage, [reused, second])
    assert [e.id for e in again.outputs] == ["a2"], "a redelivery is stored again, harmlessly"
    assert [(d.reason, d.article_id, d.offset) for d in again.dead_letters] == [("id_conflict", "a1", 0)]
    assert storage.store.get("a1").article.body == first.body
