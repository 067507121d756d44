"""Storage: the pipeline's sink. Upserts each batch into the database in one transaction.

Redelivered records never make a second row (the upsert is keyed by article id), and the
runtime commits offsets only after the database transaction, so storage has the effect of
exactly-once. Each stored article is then announced on the ``stored`` topic (at-least-once:
consumers dedupe by id).
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import Article, StoredEvent
from wirestream.db import open_store
from wirestream.service import Service


class StorageService(Service):
    name = "storage"
    transactional = False  # exactly-once effect from the database; the stored events are at-least-once

    def setup(self) -> None:
        self.store = open_store(self.settings)

    @property
    def model(self) -> str | None:
        return self.store.engine if hasattr(self, "store") else None

    @property
    def input_topic(self) -> str:
        # The last topic of the pipeline, unless told otherwise (e.g. raw, to store without NLP).
        return self.settings.storage_input_topic or self.settings.topic_enriched

    @property
    def output_topic(self) -> str:
        return self.settings.topic_stored

    def process(self, batch: Sequence[Article]) -> Sequence[StoredEvent]:
        stored = {item.article.id: item for item in self.store.upsert(batch)}
        return [
            StoredEvent(
                id=article.id, story_id=article.story_id, version=article.version, headline=article.headline,
                latest=stored[article.id].is_latest, first_stored_at=stored[article.id].first_stored_at,
                stored_at=stored[article.id].updated_at, trace=article.trace,
            )
            for article in batch
        ]
