"""Storage: the pipeline's sink. Upserts each batch into the database in one transaction.

Redelivered records never make a second row (the upsert is keyed by article id), so the
runtime's commit-after-write gives the effect of exactly-once storage.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import Article
from wirestream.service import Service
from wirestream.store import ArticleStore


class StorageService(Service):
    name = "storage"

    def setup(self) -> None:
        self.store = ArticleStore(self.settings.database_path, timeout_s=self.settings.database_timeout_s)

    @property
    def input_topic(self) -> str:
        # The last topic of the pipeline, unless told otherwise (e.g. raw, to store without NLP).
        return self.settings.storage_input_topic or self.settings.topic_enriched

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        self.store.upsert(batch)
        return batch
