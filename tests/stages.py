"""Small stages for runtime tests: no models, just records passing through."""

from __future__ import annotations

import time
from collections.abc import Sequence

from schemas import Article
from wirestream.service import Service


class Copy(Service):
    """Passes records through to the NER topic, taking ``delay_s`` per batch."""

    name = "copy"
    delay_s = 0.0

    @property
    def output_topic(self) -> str:
        return self.settings.topic_ner

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        if self.delay_s:
            time.sleep(self.delay_s)
        return batch


class SlowCopy(Copy):
    """A copy slow enough (0.2 s a batch) for rebalances to land mid-stream."""

    delay_s = 0.2


class BrokenSetup(Copy):
    """A stage whose ``setup`` fails after taking something that ``close`` must give back."""

    name = "broken"
    closed = False

    def setup(self) -> None:
        self.taken = True
        raise FileNotFoundError("lexicon.txt is not in the image")

    def close(self) -> None:
        type(self).closed = self.taken


class Fragile(Copy):
    """Copies records, except that it raises on every one while ``broken`` and on bodies saying "bad"."""

    name = "fragile"
    broken = False

    def process(self, batch: Sequence[Article]) -> Sequence[Article]:
        if type(self).broken:
            raise ConnectionRefusedError("the enrichment service is gone")
        if any("bad" in article.body for article in batch):
            raise ValueError("cannot read this one")
        return batch
