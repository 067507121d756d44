"""produce seeds/ -> raw topic -> storage, on a real broker."""

from datetime import date

from schemas import StoredEvent
from services.storage import StorageService
from tests.conftest import SEED_ARTICLE, SEEDS
from wirestream.db import open_store
from wirestream.producer import publish, read_inputs
from wirestream.testing import committed_offsets, read_topic, running_stage, wait_for


def test_seed_articles_reach_storage_once_even_when_produced_twice(raw_to_storage):
    settings = raw_to_storage
    store = open_store(settings)
    first = publish(read_inputs([str(SEEDS)]), settings)
    assert first.ok and len(first.sent) == 4

    with running_stage(StorageService(settings)):
        wait_for(lambda: store.count() == 4, what="4 stored articles")
        seed = next(a for a in first.sent if a.source == str(SEED_ARTICLE))
        stored = store.get(seed.id).article
        assert stored.published == date(2025, 2, 26)
        assert stored.dateline == "New Delhi"
        assert stored.agency == "IANS"
        assert stored.body == SEED_ARTICLE.read_text().split("2025-02-26", 1)[1].strip()
        assert [step.service for step in stored.trace] == ["produce"]

        again = publish(read_inputs([str(SEED_ARTICLE)]), settings)
        assert [a.id for a in again.sent] == [seed.id]
        # Wait until storage has consumed all 5 records, then check there is still one row each.
        wait_for(lambda: sum(committed_offsets(settings, "storage", settings.topic_raw).values()) == 5,
                 what="storage to commit all 5 records")
        assert store.count() == 4

    on_topic = read_topic(settings, settings.topic_raw, expect=5)
    keys = [record.key.decode() for record in on_topic]
    assert keys.count(seed.story_id) == 2, "records are keyed by story_id"
    assert not read_topic(settings, settings.topic_dead_letter)

    # storage announces every write on the stored topic: at-least-once, so the redelivered seed twice
    events = [StoredEvent.model_validate_json(r.value) for r in read_topic(settings, settings.topic_stored, expect=5)]
    assert sorted(e.id for e in events) == sorted([a.id for a in first.sent] + [seed.id])
    assert all(e.latest and e.trace[-1].service == "storage" for e in events)
    assert {e.id for e in events} == {a.id for a in first.sent}, "consumers dedupe by id"
